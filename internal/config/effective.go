package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Effective renders c as a configuration file: every setting that has a
// value after defaults, the file, the environment and flags, in the order
// the reference documents them, with secrets redacted. A secret read from
// a file is written as that file alone: with the redacted value beside
// it, the result would set both, which loading refuses. Loading the
// result gives c back, except for the secrets given as values, so an
// operator can read what serve will run with.
func (c *Config) Effective() *yaml.Node {
	doc := mapping()
	emit(doc, c, configSettings())
	lists := []struct {
		path    string
		entries []*yaml.Node
	}{
		{"projects", entries(c.Projects, projectSettings())},
		{"api.tokens", entries(c.API.Tokens, tokenSettings())},
		{"notify", entries(c.Notify, notifySettings())},
	}
	for _, l := range lists {
		if len(l.entries) == 0 {
			continue
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode, Content: l.entries}
		parent, name := section(doc, l.path)
		parent.Content = append(parent.Content, scalar(name), seq)
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}}
}

func entries[T any](items []T, table []setting[T]) []*yaml.Node {
	var out []*yaml.Node
	for i := range items {
		m := mapping()
		emit(m, &items[i], table)
		out = append(out, m)
	}
	return out
}

// emit adds each setting of t that has a value to m, nesting dotted paths.
func emit[T any](m *yaml.Node, t *T, table []setting[T]) {
	fromFile := map[string]bool{}
	for _, ref := range secretsOf(t, table, "") {
		fromFile[ref.path] = *ref.file != ""
	}
	for _, s := range table {
		if fromFile[s.path] {
			continue
		}
		var v *yaml.Node
		if s.kind == "list" {
			items := *s.ptr(t).(*[]string)
			if len(items) == 0 {
				continue
			}
			v = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, item := range items {
				v.Content = append(v.Content, scalar(item))
			}
		} else {
			text := s.get(t)
			if text == "" {
				continue
			}
			v = scalar(text)
		}
		parent, name := section(m, s.path)
		parent.Content = append(parent.Content, scalar(name), v)
	}
}

// section finds or makes the mapping that holds path's last element.
func section(m *yaml.Node, path string) (*yaml.Node, string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		var next *yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == p && m.Content[i+1].Kind == yaml.MappingNode {
				next = m.Content[i+1]
				break
			}
		}
		if next == nil {
			next = mapping()
			m.Content = append(m.Content, scalar(p), next)
		}
		m = next
	}
	return m, parts[len(parts)-1]
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

// scalar is a plain node where it can be: settings are read as text, so
// workers: 3 and workers: "3" are the same. Only text that would read as
// null, which leaves a setting unset, is quoted.
func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: s}
	switch s {
	case "~", "null", "Null", "NULL":
		n.Tag = "!!str"
	}
	return n
}
