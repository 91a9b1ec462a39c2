package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// root is the repository's top directory: the tests run in deploy/.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatalf("repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", dir, err)
	}
	return dir
}

func abs(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(root(t), filepath.FromSlash(rel))
}

func read(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(abs(t, rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return data
}

// needTools skips the test when SkipEnv asks for it.
func needTools(t *testing.T) {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1: not running the packaging tools", SkipEnv)
	}
}

// lookPath finds a program the test needs, failing when it is missing.
func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed (set %s=1 to skip the packaging tests): %v", name, SkipEnv, err)
	}
	return p
}

// run runs a program in the repository root with extra environment
// variables and returns its standard output; a failure fails the test
// with both outputs.
func run(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	out, err := runErr(t, env, name, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

func runErr(t *testing.T, env []string, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = root(t)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\nstdout:\n%s\nstderr:\n%s",
			name, strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// tool runs a tool of the tools/ module from the repository root, where
// the configuration files name their paths from; -C tools would run it in
// tools/. The first run builds the tool, which takes minutes.
func tool(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	out, err := toolErr(t, env, name, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

func toolErr(t *testing.T, env []string, name string, args ...string) ([]byte, error) {
	t.Helper()
	needTools(t)
	goBin := lookPath(t, "go")
	return runErr(t, env, goBin, append([]string{"tool", "-modfile=tools/go.mod", name}, args...)...)
}

// unit is a systemd unit file: section, then key, then every value the
// key was given, in order.
type unit map[string]map[string][]string

func parseUnit(data []byte) (unit, error) {
	u := unit{}
	var section string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: %q is not key=value in a section", n, line)
			}
			key = strings.TrimSpace(key)
			u[section][key] = append(u[section][key], strings.TrimSpace(value))
		}
	}
	return u, sc.Err()
}

// yamlDocs decodes every document of a YAML stream.
func yamlDocs(data []byte) ([]map[string]any, error) {
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(docs)+1, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// dig walks nested maps and lists: a string key for a map, an int for a
// list. ok is false when a step is missing or of another type.
func dig(v any, steps ...any) (any, bool) {
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			l, ok := v.([]any)
			if !ok || k < 0 || k >= len(l) {
				return nil, false
			}
			v = l[k]
		default:
			panic(fmt.Sprintf("dig: step %v is neither a key nor an index", s))
		}
	}
	return v, true
}

// mustDig is dig for what the test requires to be there.
func mustDig(t *testing.T, v any, steps ...any) any {
	t.Helper()
	got, ok := dig(v, steps...)
	if !ok {
		t.Fatalf("missing %v", steps)
	}
	return got
}

func digString(t *testing.T, v any, steps ...any) string {
	t.Helper()
	s, ok := mustDig(t, v, steps...).(string)
	if !ok {
		t.Fatalf("%v is not a string", steps)
	}
	return s
}

func digList(t *testing.T, v any, steps ...any) []any {
	t.Helper()
	l, ok := mustDig(t, v, steps...).([]any)
	if !ok {
		t.Fatalf("%v is not a list", steps)
	}
	return l
}

func digMap(t *testing.T, v any, steps ...any) map[string]any {
	t.Helper()
	m, ok := mustDig(t, v, steps...).(map[string]any)
	if !ok {
		t.Fatalf("%v is not a map", steps)
	}
	return m
}

// envFunc serves a fixed environment to config.Load.
func envFunc(env map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := env[key]
		return v, ok
	}
}
