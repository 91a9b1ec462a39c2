package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds Parse arbitrary files: it must never panic, every error
// must be a *Error, a config it accepts must validate, and no error may
// show the secret it was given in the environment.
func FuzzParse(f *testing.F) {
	f.Add(readRepoFile(f, "configs/trainyard.example.yaml"))
	for _, seed := range []string{
		"",
		"~",
		"hello",
		"workers: four\n",
		"listen: {a: b}\nredis: [1]\n",
		"gitlab: glpat-0123456789\n",
		"projects: [{forge: gitea, path: x}, {forge: gitlab, path: x, branches: ['[']}]\n",
		"projects:\n  - &p {forge: gitlab, path: g/a}\n  - *p\n",
		"a: &a [*a]\n",
		"webhook: {max_body: 9223372036854775807GiB}\n",
		"redis: {url: 'redis://:pw@[::1]:x/0?dial_timeout=zz'}\n",
		"workers: 2\n---\nworkers: 3\n",
		"train: {min_access: none, method: fast, pipeline_timeout: -1s}\n",
		"<<: {workers: 2}\n",
		"{",
		"\t",
	} {
		f.Add(seed)
	}
	const secret = "tok-SECRET-7f3a"
	env := envMap(map[string]string{
		"TRAINYARD_GITLAB_TOKEN":          secret,
		"TRAINYARD_GITHUB_WEBHOOK_SECRET": secret,
	})
	f.Fuzz(func(t *testing.T, data string) {
		c, err := Parse([]byte(data), env, nil)
		if err != nil {
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Fatalf("error %v is a %T, not a *Error", err, err)
			}
			if strings.Contains(err.Error(), secret) && !strings.Contains(data, secret) {
				t.Fatalf("error shows the secret: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
	})
}
