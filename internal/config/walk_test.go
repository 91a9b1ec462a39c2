package config

import (
	"testing"
)

// The walk keeps what decoding into structs with yaml.v3 did: merge keys,
// aliases of sections and entries, and null or broken entries left out.
func TestWalkFollowsYAML(t *testing.T) {
	c := mustParse(t, joinLines(
		"<<: {workers: 7, listen: ':1'}",
		"listen: ':2'",
		"log: &log {level: debug}",
		"redis: {<<: [{prefix: a, username: u}, {prefix: b, master_name: m}], prefix: c, addrs: ['h:1']}",
		"train: {<<: {max_parallel: 3, retries: 2}, retries: 1}",
		"projects:",
		"  - ~",
		"  - &p {forge: gitlab, path: g/a, max_parallel: 3}",
		"  - {<<: *p, path: g/b}",
		"notify: [&n {kind: slack, url: 'https://h/1'}, *n]",
	), withEnv(forgeEnv(), "TRAINYARD_GITLAB_URL", "https://g"))
	if c.Workers != 7 || c.Listen != ":2" || c.Log.Level != "debug" {
		t.Errorf("workers %d listen %q log level %q, want 7 from the merge, :2 over it, debug", c.Workers, c.Listen, c.Log.Level)
	}
	if c.Redis.Prefix != "c" || c.Redis.Username != "u" || c.Redis.MasterName != "m" {
		t.Errorf("redis = %+v, want prefix c over both merges, username and master_name from them", c.Redis)
	}
	if c.Train.MaxParallel != 3 || c.Train.Retries != 1 {
		t.Errorf("train = %+v, want max_parallel 3 merged, retries 1 over it", c.Train)
	}
	if len(c.Projects) != 2 || c.Projects[1].Path != "g/b" || *c.Projects[1].MaxParallel != 3 {
		t.Errorf("projects = %+v, want the null entry left out, and g/b with the merged max_parallel", c.Projects)
	}
	if len(c.Notify) != 2 || c.Notify[1].Name != "slack#1" || c.Notify[1].URL.Reveal() != "https://h/1" {
		t.Errorf("notify = %+v, want the alias read like its anchor", c.Notify)
	}
}

func TestWalkProblems(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key in a merge", "<<: {workrs: 2}", []string{`line 1: unknown field "workrs"`}},
		{"merge of a value", "<<: 5", []string{"yaml: map merge requires map or sequence of maps as the value"}},
		{"merge of a list of values", "<<: [{workers: 2}, 5]", []string{"yaml: map merge requires map or sequence of maps as the value"}},
		{"merge of itself", "redis: &r {url: 'redis://a:1', <<: *r}", []string{"yaml: anchor 'r' value contains itself"}},
		{"key set twice in a section", "redis: {url: 'redis://a:1', url: 'redis://b:1'}\nworkers: 0", []string{
			`line 1: field "url" set twice (first on line 1)`,
			"workers: must be at least 1, got 0"}},
		{"mapping as a key", "? {a: 1}\n: 2", []string{"line 1: unexpected a mapping"}},
		{"list as a key", "? [a]\n: 2", []string{"line 1: unexpected a list"}},
		{"null key", "~: 1\nworkers: 0", []string{"workers: must be at least 1, got 0"}},
		{"broken entries are left out", joinLines(
			"projects:",
			"  - g/b",
			"  - {forge: gitlab, forge: github}",
			"  - {forge: gitea, path: g/a}"), []string{
			"line 2: an entry of projects must be a mapping, got a single value",
			`line 3: field "forge" set twice (first on line 3)`,
			`projects[0].forge: must be gitlab or github, got "gitea"`}},
		{"projects as a mapping", "projects: {forge: gitlab}", []string{"line 1: projects must be a list, got a mapping"}},
		{"section as a list", "notify: [{kind: slack, url: u}]\nbot: [a]", []string{"line 2: bot must be a mapping, got a list"}},
		{"alias to a value as a section", "x: &x 5\nlog: *x", []string{`line 1: unknown field "x"`, "line 1: log must be a mapping, got a single value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), nil, nil)
			wantProblems(t, err, tt.want...)
		})
	}
}
