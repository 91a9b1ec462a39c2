package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Env looks up an environment variable, as os.LookupEnv does. A variable
// that is set but empty counts as unset, so that "FOO=${UNSET}" in a
// compose file or unit does not wipe a setting.
type Env func(key string) (string, bool)

// Load reads the configuration: defaults, then the file at path (see
// Flags.Locate), then the environment, then the flags the user set; then
// secrets from their files; then validation. env and flags may be nil.
// Apart from a file that cannot be read, the error is an *Error listing
// every problem found.
func Load(path string, env Env, flags *Flags) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, problems := build(data, env, flags)
	if err := problems.err(path); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse is Load for a file's contents.
func Parse(data []byte, env Env, flags *Flags) (*Config, error) {
	c, problems := build(data, env, flags)
	if err := problems.err(""); err != nil {
		return nil, err
	}
	return c, nil
}

// loader carries one load: the configuration so far, which settings were
// given and which failed, and the problems found.
type loader struct {
	c      Config
	given  map[string]bool // YAML paths set by the file, environment or flags
	failed map[string]bool // YAML paths whose value could not be used
	ps     problems
}

func (l *loader) fail(path string, err error) {
	l.failed[path] = true
	l.ps.add(err)
}

func build(data []byte, env Env, flags *Flags) (*Config, problems) {
	file, errs := decode(data)
	if file == nil {
		return nil, errs
	}
	l := &loader{c: Defaults(), given: map[string]bool{}, failed: map[string]bool{}}
	l.ps.add(errs...)
	applyNodes(l, &l.c, configSettings(), file.nodes, "")
	l.c.Projects = applyEntries(l, file.lists["projects"], projectSettings(), "projects")
	l.c.Notify = applyEntries(l, file.lists["notify"], notifySettings(), "notify")
	l.c.API.Tokens = applyEntries(l, file.lists["api.tokens"], tokenSettings(), "api.tokens")
	for i := range l.c.Notify {
		if r := &l.c.Notify[i]; r.Name == "" {
			r.Name = defaultRouteName(r.Kind, i)
		}
	}
	l.applyEnv(env)
	flags.apply(l)
	// The default URL gives way to addresses given anywhere.
	if len(l.c.Redis.Addrs) > 0 && !l.given["redis.url"] {
		l.c.Redis.URL = ""
	}
	l.resolveSecrets()
	// A setting that failed kept its old value; checking it would only
	// repeat its problem in other words.
	for _, err := range l.c.problems() {
		if fe, ok := errors.AsType[*FieldError](err); !ok || !l.failed[fe.Field] {
			l.ps.add(err)
		}
	}
	return &l.c, l.ps
}

// applyNodes sets the settings of t found in the file. prefix goes before
// each path ("projects[0].").
func applyNodes[T any](l *loader, t *T, table []setting[T], found map[string]*yaml.Node, prefix string) {
	for _, s := range table {
		n, ok := found[s.path]
		if !ok {
			continue
		}
		v, ok, err := nodeValue(n)
		if err == nil && ok {
			err = s.set(t, v)
		}
		switch {
		case err != nil:
			l.fail(prefix+s.path, &FieldError{Field: prefix + s.path, Line: n.Line, Err: err})
		case ok:
			l.given[prefix+s.path] = true
		}
	}
}

// applyEntries reads the entries of a list section (projects), each
// through the section's own table.
func applyEntries[T any](l *loader, entries []*found, table []setting[T], section string) []T {
	var out []T
	for i, e := range entries {
		var t T
		applyNodes(l, &t, table, e.nodes, fmt.Sprintf("%s[%d].", section, i))
		out = append(out, t)
	}
	return out
}

func (l *loader) applyEnv(env Env) {
	if env == nil {
		return
	}
	for _, s := range configSettings() {
		text, ok := env(s.env())
		if !ok || text == "" {
			continue
		}
		if err := s.set(&l.c, value{text: text}); err != nil {
			l.fail(s.path, &FieldError{Field: s.env(), Err: err})
			continue
		}
		l.given[s.path] = true
	}
}

// maxSecretFile bounds what is read from a secret file, so that naming the
// wrong file (a device, a log) fails instead of filling memory.
const maxSecretFile = 64 << 10

// resolveSecrets reads the secrets given as files. A secret given both
// ways is refused: which one wins would be a guess.
func (l *loader) resolveSecrets() {
	for _, s := range l.c.secrets() {
		if *s.file == "" {
			continue
		}
		fileField := s.path + "_file"
		if !s.value.IsZero() {
			l.fail(s.path, fieldErr(fileField, "set only one of %s and %s", s.describe(), fileField))
			continue
		}
		v, err := readSecret(*s.file)
		if err != nil {
			l.fail(s.path, &FieldError{Field: fileField, Err: err})
			continue
		}
		*s.value = NewSecret(v)
	}
}

// readSecret returns a secret file's content, trimmed. Errors name the
// file, never what is in it.
func readSecret(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("cannot read: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", name, err)
	}
	if len(data) > maxSecretFile {
		return "", fmt.Errorf("file %s is larger than %d bytes; is it the right file?", name, maxSecretFile)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", fmt.Errorf("file %s is empty", name)
	}
	return v, nil
}

// ExposedSecretFile is a secret file that users other than its owner
// may read, and the setting that names it.
type ExposedSecretFile struct {
	Setting string
	Path    string
	Mode    os.FileMode
}

// ExposedSecretFiles lists the secret files read that their group or
// others may read too: a token or key any local user can read. They are
// used all the same (a container's secret volume is often so), for the
// operator to be warned.
func (c *Config) ExposedSecretFiles() []ExposedSecretFile {
	var out []ExposedSecretFile
	for _, s := range c.secrets() {
		if *s.file == "" {
			continue
		}
		fi, err := os.Stat(*s.file)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		out = append(out, ExposedSecretFile{Setting: s.path + "_file", Path: *s.file, Mode: fi.Mode().Perm()})
	}
	return out
}
