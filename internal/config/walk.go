package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// The file is read as a yaml.Node tree and walked along the settings
// tables: a key is a setting, a section holding settings, or a list
// section (projects) whose entries have a table of their own; any other
// key is refused. The walk follows yaml.v3's rules for decoding into
// structs strictly (aliases, << merges, duplicate keys, null sections and
// entries), and its problems name the section and never quote a value.

// A shape is what one kind of mapping of the file may hold, from a
// table: settings, sections of settings, and (in the file) lists of
// entries that have shapes of their own.
type shape struct {
	label string          // names the mapping in problems; "" for the file
	keys  map[string]bool // the path of each setting (false) and section (true)
	lists map[string]*shape
}

func shapeOf[T any](label string, table []setting[T]) *shape {
	sh := &shape{label: label, keys: map[string]bool{}}
	for _, s := range table {
		sh.keys[s.path] = false
		for i := range len(s.path) {
			if s.path[i] == '.' {
				sh.keys[s.path[:i]] = true
			}
		}
	}
	return sh
}

// fileShape is the shape of the whole file.
func fileShape() *shape {
	sh := shapeOf("", configSettings())
	sh.lists = map[string]*shape{
		"projects":   shapeOf("an entry of projects", projectSettings()),
		"notify":     shapeOf("an entry of notify", notifySettings()),
		"api.tokens": shapeOf("an entry of api.tokens", tokenSettings()),
	}
	return sh
}

// found is what one mapping of the file sets: the node of each setting,
// by path, and the entries of its list sections.
type found struct {
	nodes map[string]*yaml.Node
	lists map[string][]*found
}

func newFound() *found {
	return &found{nodes: map[string]*yaml.Node{}, lists: map[string][]*found{}}
}

// decode reads the file strictly. A nil found means it could not be read
// at all; otherwise the problems are keys and sections that could not be
// placed.
func decode(data []byte) (*found, []error) { return decodeAs(data, fileShape()) }

// decodeAs is decode for a file of shape sh.
func decodeAs(data []byte, sh *shape) (*found, []error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	switch {
	case errors.Is(err, io.EOF):
		return newFound(), nil
	case err != nil:
		return nil, []error{err}
	}
	f := newFound()
	w := &walker{following: map[*yaml.Node]bool{}}
	for _, root := range doc.Content {
		w.section(root, sh, "", f, nil)
	}
	if w.fatal != nil {
		return nil, []error{w.fatal}
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		w.ps.add(errors.New("the file holds more than one YAML document"))
	}
	if w.unlisted > 0 {
		w.ps.add(fmt.Errorf("%d more problems not listed", w.unlisted))
	}
	return f, w.ps
}

// walker carries one walk of the file.
type walker struct {
	ps        problems
	fatal     error               // stops the walk, as yaml.v3's failures do
	following map[*yaml.Node]bool // aliases being followed
	unlisted  int                 // problems past maxProblems
	visits    int                 // nodes visited
	aliased   int                 // of those, reached through an alias
	depth     int                 // aliases being followed
}

func (w *walker) fail(msg string) {
	if w.fatal == nil {
		w.fatal = errors.New("yaml: " + msg)
	}
}

func (w *walker) problem(n *yaml.Node, format string, args ...any) {
	if len(w.ps) >= maxProblems {
		w.unlisted++
		return
	}
	w.ps.add(fmt.Errorf("line %d: "+format, append([]any{n.Line}, args...)...))
}

// maxProblems bounds the problems a walk lists: a file can hold as many
// as it has lines, and nobody reads past the first few.
const maxProblems = 100

// visit calls fn with n, or with what n names when it is an alias. Like
// yaml.v3, it refuses an alias met again inside itself, and a document
// that is mostly alias expansions (a "billion laughs").
func (w *walker) visit(n *yaml.Node, fn func(*yaml.Node) bool) bool {
	w.visits++
	if w.depth > 0 {
		w.aliased++
	}
	switch {
	case w.fatal != nil:
		return false
	case w.aliased > 100 && w.visits > 1000 && w.aliased*100 > w.visits*99:
		w.fail("document contains excessive aliasing")
		return false
	case n.Kind != yaml.AliasNode:
		return fn(n)
	case w.following[n]:
		w.fail(fmt.Sprintf("anchor '%s' value contains itself", n.Value))
		return false
	}
	w.following[n] = true
	w.depth++
	ok := w.visit(n.Alias, fn)
	w.depth--
	delete(w.following, n)
	return ok
}

// section walks n where a mapping of sh is expected, at the path at
// ("redis"; "" for the file or an entry). merged holds the keys already
// set when n is merged (<<) into another mapping: those keep their value.
// It reports whether n was a mapping that could be read.
func (w *walker) section(n *yaml.Node, sh *shape, at string, f *found, merged map[string]bool) bool {
	return w.visit(n, func(n *yaml.Node) bool {
		switch {
		case n.Kind == yaml.MappingNode:
			if w.duplicates(n) {
				return false
			}
			w.keys(n, sh, at, f, merged)
			return true
		case isNull(n):
		case cmp.Or(at, sh.label) == "":
			w.problem(n, "the file must be a mapping of settings, got %s", kindName(n.Kind))
		default:
			w.problem(n, "%s must be a mapping, got %s", cmp.Or(at, sh.label), kindName(n.Kind))
		}
		return false
	})
}

// keys places the keys of a mapping, then what it merges.
func (w *walker) keys(n *yaml.Node, sh *shape, at string, f *found, merged map[string]bool) {
	var merge *yaml.Node
	set := map[string]int{} // the line each known key was set on
	for i := 0; i+1 < len(n.Content) && w.fatal == nil; i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			merge = v
			continue
		}
		name, ok := w.key(k)
		path := name
		if at != "" {
			path = at + "." + name
		}
		switch _, known := sh.keys[path]; {
		case !ok || merged[name]:
			continue
		case merged != nil:
			merged[name] = true
		case set[path] > 0: // an alias naming a key already there
			w.problem(k, "field %q set twice (first on line %d)", name, set[path])
			continue
		case known || sh.lists[path] != nil:
			set[path] = k.Line
		}
		w.place(k, name, path, v, sh, at, f)
	}
	if merge == nil || w.fatal != nil {
		return
	}
	if merged == nil {
		merged = map[string]bool{}
		for i := 0; i < len(n.Content); i += 2 {
			if k, err := resolveAlias(n.Content[i]); err == nil && k.Kind == yaml.ScalarNode {
				merged[k.Value] = true
			}
		}
	}
	w.merge(merge, sh, at, f, merged)
}

// place puts the value of key name where sh says it goes.
func (w *walker) place(k *yaml.Node, name, path string, v *yaml.Node, sh *shape, at string, f *found) {
	section, known := sh.keys[path]
	switch entry := sh.lists[path]; {
	case known && section:
		w.section(v, sh, path, f, nil)
	case known:
		w.visits++
		f.nodes[path] = v
	case entry != nil:
		f.lists[path] = w.list(v, entry, path)
	case at != "" || sh.label != "":
		w.problem(k, "unknown field %q in %s", name, cmp.Or(at, sh.label))
	default:
		w.problem(k, "unknown field %q", name)
	}
}

// key reads a mapping key. A null key is skipped, as yaml.v3 does.
func (w *walker) key(k *yaml.Node) (name string, ok bool) {
	w.visit(k, func(n *yaml.Node) bool {
		switch {
		case isNull(n):
		case n.Kind == yaml.ScalarNode:
			name, ok = n.Value, true
		case n.Kind != yaml.MappingNode || !w.duplicates(n):
			w.problem(n, "unexpected %s", kindName(n.Kind))
		}
		return ok
	})
	return name, ok
}

// merge walks the value of a << key: a mapping, or a list of mappings,
// each merged in turn.
func (w *walker) merge(v *yaml.Node, sh *shape, at string, f *found, merged map[string]bool) {
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	for _, item := range items {
		target := item
		if item.Kind == yaml.AliasNode && item.Alias != nil {
			target = item.Alias
		}
		if target.Kind != yaml.MappingNode {
			w.fail("map merge requires map or sequence of maps as the value")
			return
		}
		w.section(item, sh, at, f, merged)
	}
}

// list walks a list section. Entries that are null or could not be read
// are left out, as yaml.v3 leaves them out of a slice.
func (w *walker) list(v *yaml.Node, entry *shape, name string) []*found {
	var entries []*found
	w.visit(v, func(n *yaml.Node) bool {
		switch {
		case n.Kind == yaml.SequenceNode:
			for _, item := range n.Content {
				if e := newFound(); w.section(item, entry, "", e, nil) {
					entries = append(entries, e)
				}
			}
		case n.Kind == yaml.MappingNode && w.duplicates(n), isNull(n):
		default:
			w.problem(n, "%s must be a list, got %s", name, kindName(n.Kind))
		}
		return true
	})
	return entries
}

// duplicates reports each key a mapping sets again, against where it was
// first set: in one pass, since a file of the same key over and over
// must cost no more than its length.
func (w *walker) duplicates(n *yaml.Node) bool {
	type key struct {
		kind  yaml.Kind
		value string
	}
	first := map[key]*yaml.Node{}
	found := false
	for i := 0; i < len(n.Content); i += 2 {
		b := n.Content[i]
		if a, ok := first[key{b.Kind, b.Value}]; ok {
			w.problem(b, "field %q set twice (first on line %d)", b.Value, a.Line)
			found = true
			continue
		}
		first[key{b.Kind, b.Value}] = b
	}
	return found
}

func isMerge(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && (n.Tag == "" || n.Tag == "!" || n.ShortTag() == "!!merge")
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// maxAliasDepth bounds the alias chain followed for one value.
const maxAliasDepth = 32

// nodeValue reads a setting's node. ok is false when the key is absent or
// null, which leaves the setting as it was.
func nodeValue(n *yaml.Node) (v value, ok bool, err error) {
	n, err = resolveAlias(n)
	if err != nil {
		return value{}, false, err
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if isNull(n) {
			return value{}, false, nil
		}
		return value{text: n.Value}, true, nil
	case yaml.SequenceNode:
		v = value{list: true, items: make([]string, 0, len(n.Content))}
		for i, item := range n.Content {
			item, err := resolveAlias(item)
			if err != nil {
				return value{}, false, err
			}
			if item.Kind != yaml.ScalarNode {
				return value{}, false, fmt.Errorf("item %d: want a single value, got %s", i, kindName(item.Kind))
			}
			v.items = append(v.items, item.Value)
		}
		return v, true, nil
	default:
		return value{}, false, fmt.Errorf("want a value, got %s", kindName(n.Kind))
	}
}

func resolveAlias(n *yaml.Node) (*yaml.Node, error) {
	for range maxAliasDepth {
		if n.Kind != yaml.AliasNode {
			return n, nil
		}
		if n.Alias == nil {
			return nil, errors.New("alias to nothing")
		}
		n = n.Alias
	}
	return nil, errors.New("aliases nested too deep")
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}
