package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func render(t *testing.T, c *Config) string {
	t.Helper()
	out, err := yaml.Marshal(c.Effective())
	if err != nil {
		t.Fatalf("marshal the effective configuration: %v", err)
	}
	return string(out)
}

// The effective configuration loads back to the same Config: nothing is
// lost or changed by printing it.
func TestEffectiveRoundTrips(t *testing.T) {
	const file = `
listen: 127.0.0.1:9090
workers: 3
redis: {url: redis://127.0.0.1:6379/2, prefix: ty}
gitlab:
  url: https://gitlab.example.com
projects:
  - forge: gitlab
    path: group/app
    branches: [main, release/*]
    batch_size: 4
    method: merge
    pipeline_timeout: 45m
    freezes:
      - "2026-12-24 2026-12-27T08:00 Europe/Berlin Holiday freeze, see #ops: ask first"
      - 2026-06-30 2026-07-01 UTC
    merge_windows: ["Mon,Wed 09:00-17:00 Europe/Berlin", Fri-Mon 22:00-06:00 UTC]
  - forge: gitlab
    path: group/lib
notify:
  - kind: slack
    url: https://hooks.slack.com/services/T/B/C
    events: [merged, evicted]
`
	env := map[string]string{"TRAINYARD_GITLAB_TOKEN": "glpat-0123456789abcdef", "TRAINYARD_GITLAB_WEBHOOK_SECRET": "0123456789abcdef0123"}
	c := mustParse(t, file, env)
	text := render(t, c)
	back := mustParse(t, text, env)
	// Secrets print redacted, so they come back as the redaction text.
	for _, cfg := range []*Config{c, back} {
		cfg.GitLab.Token, cfg.GitLab.WebhookSecret, cfg.Notify[0].URL = Secret{}, Secret{}, Secret{}
	}
	if !reflect.DeepEqual(c, back) {
		t.Errorf("the effective configuration loads as something else:\n%s\nfirst:  %+v\nsecond: %+v", text, c, back)
	}
	for _, want := range []string{"workers: 3\n", "branches: [main, release/*]", "batch_size: 4\n", "data_dir: ", "path: group/lib\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("the effective configuration lacks %q:\n%s", want, text)
		}
	}
}

func TestEffectiveRedactsSecrets(t *testing.T) {
	const password, token, hook = "s3cr3t-redis-pw", "glpat-0123456789abcdef", "https://hooks.slack.com/services/T/B/Csecret"
	c := mustParse(t, `
redis: {url: "redis://:`+password+`@127.0.0.1:6379/0"}
api: {tokens: [{name: ci, role: write, token: 0123456789abcdef0123}]}
notify: [{kind: slack, url: "`+hook+`"}]
gitlab: {url: https://gitlab.example.com}
projects: [{forge: gitlab, path: group/app}]
`, map[string]string{"TRAINYARD_GITLAB_TOKEN": token, "TRAINYARD_GITLAB_WEBHOOK_SECRET": "0123456789abcdef0123"})
	text := render(t, c)
	for _, secret := range []string{password, token, "0123456789abcdef0123", "Csecret"} {
		if strings.Contains(text, secret) {
			t.Errorf("the effective configuration shows the secret %q:\n%s", secret, text)
		}
	}
	if n := strings.Count(text, redacted); n < 4 {
		t.Errorf("%d redacted values, want at least 4 (token, webhook secret, API token, chat URL):\n%s", n, text)
	}
	if !strings.Contains(text, "name: ci\n") || !strings.Contains(text, "role: write\n") {
		t.Errorf("the API token's name and role are missing:\n%s", text)
	}
}

// A secret read from a file is printed as that file alone, not redacted
// beside it: the effective configuration then loads back, secrets and
// all, as the configuration it was printed from.
func TestEffectiveNamesSecretFiles(t *testing.T) {
	file := func(name, content string) string { return writeFile(t, name, content+"\n") }
	shared := fmt.Sprintf(`
redis: {password_file: %s}
gitlab: {url: https://gitlab.example.com, token_file: %s, webhook_secret_file: %s}
api:
  token_file: %s
  tokens: [{name: ci, role: write, token_file: %s}]
projects:
  - {forge: gitlab, path: group/app, webhook_secret_file: %s}
  - {forge: github, path: acme/app}
notify: [{kind: slack, url_file: %s}]
`, file("redis", "redis-password"), file("gitlab-token", "glpat-0123456789abcdef"),
		file("gitlab-hook", "gitlab-hook-secret-0123"), file("api-token", "api-token-0123456789"),
		file("ci-token", "ci-token-0123456789ab"), file("project-hook", "project-hook-secret-0123"),
		file("slack", "https://hooks.slack.com/services/T/B/C"))
	hook := file("github-hook", "github-hook-secret-0123")
	for name, github := range map[string]string{
		"token": fmt.Sprintf("github: {token_file: %s, webhook_secret_file: %s}\n", file("github-token", "ghp_0123456789abcdef"), hook),
		"app": fmt.Sprintf("github: {app_id: 1, installation_id: 2, private_key_file: %s, webhook_secret_file: %s}\n",
			file("github-key", testKeyPEM), hook),
	} {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, shared+github, nil)
			text := render(t, c)
			if strings.Contains(text, redacted) {
				t.Errorf("a secret read from a file is printed redacted:\n%s", text)
			}
			back, err := Parse([]byte(text), nil, nil)
			if err != nil {
				t.Fatalf("the effective configuration does not load: %v\n%s", err, text)
			}
			if !reflect.DeepEqual(c, back) {
				t.Errorf("the effective configuration loads as something else:\n%s\nfirst:  %+v\nsecond: %+v", text, c, back)
			}
			// Redis, GitLab (2), GitHub (2), the API (2), the project
			// and the chat route.
			if n := strings.Count(text, "_file: "); n != 9 {
				t.Errorf("%d settings name a file, want 9:\n%s", n, text)
			}
		})
	}
}
