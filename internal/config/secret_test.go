package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/yaml.v3"
)

func secretConfig(t *testing.T) *Config {
	t.Helper()
	c := mustParse(t, joinLines(
		"redis: {url: 'redis://user:redis-pw-1@db:6379/0', password: redis-pw-2}",
		"gitlab: {url: 'https://gitlab.example.com', token: glpat-tok-3, webhook_secret: hook-secret-4-abcdef}",
		"github: {token: ghp-tok-5, webhook_secret: hook-secret-6-abcdef}",
		"projects: [{forge: gitlab, path: g/a}, {forge: github, path: o/r}]",
		"api: {token: api-token-7-abcdefg}",
		"notify: [{kind: slack, url: 'https://hooks.slack.com/services/hook-8'}]",
	), nil)
	if c.GitLab.Token.Reveal() != "glpat-tok-3" || string(c.Redis.URL) != "redis://user:redis-pw-1@db:6379/0" {
		t.Fatalf("secrets not loaded: %q %q", c.GitLab.Token.Reveal(), string(c.Redis.URL))
	}
	return c
}

var secretValues = []string{"redis-pw-1", "redis-pw-2", "glpat-tok-3", "hook-secret-4-abcdef", "ghp-tok-5", "hook-secret-6-abcdef", "api-token-7-abcdefg", "hook-8"}

func TestSecretsNeverPrinted(t *testing.T) {
	c := secretConfig(t)
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outputs[verb+" config"] = fmt.Sprintf(verb, *c)
		outputs[verb+" pointer"] = fmt.Sprintf(verb, c.GitLab)
		outputs[verb+" secret"] = fmt.Sprintf(verb, c.GitLab.Token)
		outputs[verb+" url"] = fmt.Sprintf(verb, c.Redis.URL)
		outputs[verb+" api"] = fmt.Sprintf(verb, c.API)
		outputs[verb+" notify"] = fmt.Sprintf(verb, c.Notify)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(js)
	ys, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(ys)
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zap.DebugLevel))
	log.Info("loaded", zap.Any("config", c), zap.Stringer("token", c.GitLab.Token), zap.Any("url", c.Redis.URL))
	outputs["zap"] = buf.String()

	for name, out := range outputs {
		for _, s := range secretValues {
			if strings.Contains(out, s) {
				t.Errorf("%s shows secret %q:\n%s", name, s, out)
			}
		}
	}
	for name, want := range map[string]string{
		"%v api": "{[redacted]  false []}", "%+v api": "{Token:[redacted] TokenFile: ProtectReads:false Tokens:[]}",
		"%#v api": "config.API{Token:[redacted], TokenFile:\"\", ProtectReads:false, Tokens:[]config.APIToken(nil)}",
	} {
		if outputs[name] != want {
			t.Errorf("%s = %q, want %q", name, outputs[name], want)
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if out := outputs[verb+" notify"]; !strings.Contains(out, "[redacted]") {
			t.Errorf("%s notify = %q, want the url shown as [redacted]", verb, out)
		}
	}
	for _, name := range []string{"%v secret", "%+v secret", "%#v secret", "%x secret", "%d secret"} {
		if outputs[name] != "[redacted]" {
			t.Errorf("%s = %q, want [redacted]", name, outputs[name])
		}
	}
	if got, want := outputs["%v url"], "redis://user:xxxxx@db:6379/0"; got != want {
		t.Errorf("url prints as %q, want %q", got, want)
	}
	if !strings.Contains(outputs["json"], `"Token":"[redacted]"`) {
		t.Errorf("JSON does not show the token as redacted: %s", outputs["json"])
	}
}

func TestSecretZero(t *testing.T) {
	var s Secret
	if !s.IsZero() || fmt.Sprint(s) != "" || NewSecret("x").IsZero() {
		t.Errorf("zero secret: IsZero %v, prints %q", s.IsZero(), fmt.Sprint(s))
	}
	if got := URL("::not a url").String(); got != "[redacted]" {
		t.Errorf("unparsable URL prints %q, want [redacted]", got)
	}
}
