package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func writeServiceConfig(t *testing.T, text string) string {
	t.Helper()
	return writeFile(t, "trainyard.yaml", text)
}

// writeFile writes body to a file of that name in a new temporary
// directory.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigCheck(t *testing.T) {
	const token = "glpat-a-token-nobody-should-see"
	t.Setenv("TRAINYARD_GITLAB_TOKEN", token)
	t.Setenv("TRAINYARD_GITLAB_WEBHOOK_SECRET", "a-webhook-secret-0123")
	t.Setenv("TRAINYARD_WORKERS", "7")
	path := writeServiceConfig(t, "gitlab: {url: https://gitlab.example.com}\nprojects: [{forge: gitlab, path: group/app, batch_size: 3}]\n")

	out, err := run(t.Context(), "config", "check", path)
	if err != nil {
		t.Fatalf("config check: %v", err)
	}
	if strings.Contains(out, token) || !strings.Contains(out, "token: '[redacted]'") {
		t.Errorf("the token is not redacted:\n%s", out)
	}
	var eff struct {
		Workers  string `yaml:"workers"`
		Listen   string `yaml:"listen"`
		Projects []struct {
			Path      string `yaml:"path"`
			BatchSize string `yaml:"batch_size"`
		} `yaml:"projects"`
	}
	if err := yaml.Unmarshal([]byte(out), &eff); err != nil {
		t.Fatalf("the output is not YAML: %v\n%s", err, out)
	}
	// The environment applied, the defaults filled in, the file's project.
	if eff.Workers != "7" || eff.Listen != "127.0.0.1:8080" || len(eff.Projects) != 1 ||
		eff.Projects[0].Path != "group/app" || eff.Projects[0].BatchSize != "3" {
		t.Errorf("effective configuration %+v:\n%s", eff, out)
	}

	// The effective configuration is itself a valid configuration.
	body := func(s string) string { _, b, _ := strings.Cut(s, "\n\n"); return b }
	again, err := run(t.Context(), "config", "check", writeServiceConfig(t, out))
	if err != nil || body(again) != body(out) || body(out) == "" {
		t.Errorf("checking the printed configuration: %v\n%s\nwant\n%s", err, again, out)
	}

	js, err := run(t.Context(), "config", "check", "-o", "json", path)
	if err != nil || !strings.Contains(js, `"workers": 7`) {
		t.Errorf("-o json: %v\n%s", err, js)
	}

	// One setting a line, by its path, secrets redacted as in YAML.
	table, err := run(t.Context(), "config", "check", "-o", "table", path)
	if err != nil || strings.Contains(table, token) {
		t.Fatalf("-o table: %v\n%s", err, table)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			rows[f[0]] = f[1]
		}
	}
	for k, want := range map[string]string{"SETTING": "VALUE", "workers": "7", "listen": "127.0.0.1:8080",
		"projects[0].path": "group/app", "projects[0].batch_size": "3", "gitlab.token": "[redacted]"} {
		if rows[k] != want {
			t.Errorf("-o table: %s = %q, want %q\n%s", k, rows[k], want, table)
		}
	}
}

// With every secret in a file, the printed configuration names the files
// and is itself a valid configuration that prints the same.
func TestConfigCheckOfSecretFilesLoadsBack(t *testing.T) {
	for _, k := range []string{"TRAINYARD_GITLAB_TOKEN", "TRAINYARD_GITLAB_WEBHOOK_SECRET", "TRAINYARD_API_TOKEN"} {
		t.Setenv(k, "")
	}
	secret := func(name, v string) string { return writeFile(t, name, v+"\n") }
	path := writeServiceConfig(t, fmt.Sprintf(`
redis: {password_file: %s}
gitlab: {url: https://gitlab.example.com, token_file: %s, webhook_secret_file: %s}
github: {token_file: %s, webhook_secret_file: %s}
api:
  token_file: %s
  tokens: [{name: ci, role: write, token_file: %s}]
projects:
  - {forge: gitlab, path: group/app, webhook_secret_file: %s}
  - {forge: github, path: acme/app}
notify: [{kind: slack, url_file: %s}]
`, secret("redis", "redis-password"), secret("gitlab-token", "glpat-0123456789abcdef"), secret("gitlab-hook", "gitlab-hook-secret-0123"),
		secret("github-token", "ghp_0123456789abcdef"), secret("github-hook", "github-hook-secret-0123"),
		secret("api-token", "api-token-0123456789"), secret("ci-token", "ci-token-0123456789ab"),
		secret("project-hook", "project-hook-secret-0123"), secret("slack", "https://hooks.slack.com/services/T/B/C")))

	out, err := run(t.Context(), "config", "check", path)
	if err != nil {
		t.Fatalf("config check: %v", err)
	}
	if strings.Contains(out, "[redacted]") || strings.Count(out, "_file: ") != 9 {
		t.Errorf("want the nine secret files named, and no secret redacted beside them:\n%s", out)
	}
	body := func(s string) string { _, b, _ := strings.Cut(s, "\n\n"); return b }
	again, err := run(t.Context(), "config", "check", writeServiceConfig(t, out))
	if err != nil || body(again) != body(out) {
		t.Errorf("checking the printed configuration: %v\n%s\nwant\n%s", err, again, out)
	}
}

func TestConfigCheckRefusals(t *testing.T) {
	bad := writeServiceConfig(t, "workers: many\ntrain: {method: zip}\n")
	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"bad fields", []string{"config", "check", bad}, exitFailed, []string{"workers", "train.method"}},
		{"missing file", []string{"config", "check", filepath.Join(t.TempDir(), "none.yaml")}, exitFailed, []string{"none.yaml"}},
		{"bad output", []string{"config", "check", "-o", "xml", bad}, exitUsage, []string{`-o "xml": want yaml, json or table`}},
		{"two files", []string{"config", "check", bad, bad}, exitUsage, []string{"accepts at most 1 arg"}},
	} {
		out, err := run(t.Context(), c.args...)
		if err == nil {
			t.Errorf("%s: no error; printed\n%s", c.name, out)
			continue
		}
		if got := exitCode(err); got != c.code {
			t.Errorf("%s: exit %d, want %d (%v)", c.name, got, c.code, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not name %q", c.name, err, w)
			}
		}
	}
}

// A configuration without projects would run nothing: serve refuses it
// before listening, unless told to start anyway.
func TestServeRefusesNoProjects(t *testing.T) {
	addr := freeAddr(t)
	path := writeServiceConfig(t, "listen: "+addr+"\nredis: {url: 'redis://127.0.0.1:1/0'}\n")
	_, err := run(t.Context(), "serve", "--config", path)
	if err == nil || !strings.Contains(err.Error(), path+" lists no projects") || !strings.Contains(err.Error(), "--allow-empty") {
		t.Fatalf("serve with no projects: %v, want a refusal naming the file and --allow-empty", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("serve listened before refusing")
	}

	// --allow-empty starts: the listener answers /healthz until cancelled.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := run(ctx, "serve", "--config", path, "--allow-empty"); done <- err }()
	waitHealthy(t, "http://"+addr+"/healthz", done)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve --allow-empty exited with %v", err)
	}
}

// waitHealthy waits for url to answer 200, failing if done reports first.
func waitHealthy(t *testing.T, url string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve exited before answering: %v", err)
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within 20s", url)
}
