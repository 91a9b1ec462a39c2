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

// testKeyPEM is an RSA key made for these tests, small to keep them
// fast; a GitHub App's key is larger, and read the same way.
const testKeyPEM = `-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQDZq1+HIumc+rEYlFKnPDNXlS2n6XUAVQW1yv1goFKF4dUvmfgC
X7WE6rqd+OYTVwuJc2p9c1BACw3MZSozhQ6b4+OHsVPJ2vc/inmbApSxOW20m8vz
JQOA2VuRZWuzDaDUoPekaUQxb1KXDVd6WsmDkB+owBvrxf5I4llFwz9FKQIDAQAB
AoGAaxzT43Igt6j9oPTMP5N2SHEWiHxvoPw11SHQ0c3TDiL1f3kq/DAQ6RmBP9+N
iJLbEIaFLrqiEQHfhmd5/uRJLTDJaLm9INXCUEgaeMMT/hMGQ386B1dZqK9M9hUM
CY+ADBSJnaoSPQCn7og+QjJmHA1xBydwtQE7HIo/VBygOAECQQD2ku+QTXnxAi/B
mF54h7A95G42VbSMBW0kxD0PkMivBmxM8w7Ui7FWgb9+3RiGFDvwv2OMKxvj9F+b
4FujpXWpAkEA4f2RGkteOhsdtGDC4qH5i2bN2ql81htmTOyCR8WvPDgLGZCj95C0
6MB25vr1SButGvY+8azsQPng2ajTS04DgQJABtj1xjAgnszMvreYiAhcoJtjZCbl
KK5N5aN9fp0qtZGcGFb3pndqqVhZFRDWyYJuV7U48n+P+riinxWP9e92YQJBAN40
S1M2Xgz2EowERDtAljR6PdhNpECFql3igur9NiMY29kkPgSy1R6x93d/tGNVSyzi
iNtqctYkm/CILlGyAIECQDpIslcefYxoY/k/hQsd5bpPf/WAB8Z2q2jo0jQkTb2f
dn0Ov3NO/QcIUfjFOuiXQMS6GLcX5FZOMmm5oEiqBus=
-----END RSA PRIVATE KEY-----`

func withEnv(env map[string]string, key, value string) map[string]string {
	env[key] = value
	return env
}
