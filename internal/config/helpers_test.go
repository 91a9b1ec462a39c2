package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// envMap is an Env over a map.
func envMap(m map[string]string) Env {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// messages returns the problems of a load error, one string each.
func messages(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	cfgErr, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	out := make([]string, len(cfgErr.Problems))
	for i, p := range cfgErr.Problems {
		out[i] = p.Error()
	}
	return out
}

func mustParse(t *testing.T, yaml string, env map[string]string) *Config {
	t.Helper()
	c, err := Parse([]byte(yaml), envMap(env), nil)
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return c
}

func wantProblems(t *testing.T, err error, want ...string) {
	t.Helper()
	if got := messages(t, err); !slices.Equal(got, want) {
		t.Errorf("problems:\n  got  %q\n  want %q", got, want)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readRepoFile(t testing.TB, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return string(data)
}

// credentials that make every forge of a project list valid.
func forgeEnv() map[string]string {
	return map[string]string{
		"TRAINYARD_GITLAB_URL":            "https://gitlab.example.com",
		"TRAINYARD_GITLAB_TOKEN":          "glpat-example-token",
		"TRAINYARD_GITLAB_WEBHOOK_SECRET": "gitlab-hook-secret",
		"TRAINYARD_GITHUB_TOKEN":          "ghp_example_token",
		"TRAINYARD_GITHUB_WEBHOOK_SECRET": "github-hook-secret",
	}
}

func joinLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
