package config

import (
	"strings"
	"testing"
)

func TestProblems(t *testing.T) {
	const gitlabProject = "projects: [{forge: gitlab, path: group/app}]\n"
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{"workers", "workers: 0", nil, []string{"workers: must be at least 1, got 0"}},
		{"ui url", "ui: {url: trainyard.example.com}", nil, []string{`ui.url: must be an http or https URL, got "trainyard.example.com"`}},
		{"max_parallel", "train: {max_parallel: 0}", nil, []string{"train.max_parallel: must be at least 1, got 0"}},
		{"retries", "train: {retries: -1}", nil, []string{"train.retries: must be at least 0, got -1"}},
		{"gitlab requests_per_minute", "gitlab: {requests_per_minute: -1}", nil, []string{"gitlab.requests_per_minute: must be at least 0, got -1"}},
		{"batch_size", "train: {batch_size: 0}", nil, []string{"train.batch_size: must be at least 1, got 0"}},
		{"max_batch_size below batch_size", "train: {batch_size: 8, max_batch_size: 4}", nil, []string{"train.max_batch_size: must be 0 (a fixed batch_size) or at least batch_size (8), got 4"}},
		{"max_batch_size negative", "train: {max_batch_size: -1}", nil, []string{"train.max_batch_size: must be 0 (a fixed batch_size) or at least batch_size (8), got -1"}},
		{"min_window", "train: {max_parallel: 6, min_window: 7}", nil, []string{"train.min_window: must be between 0 and max_parallel (6), got 7"}},
		{"bisect_parallel", "train: {bisect_parallel: -2}\nprojects: [{forge: gitlab, path: g/a, bisect_parallel: -1}]", forgeEnv(), []string{
			"train.bisect_parallel: must be at least 0, got -2", "projects[0].bisect_parallel: must be at least 0, got -1"}},
		{"eager_eviction", "train: {eager_eviction: sometimes}", nil, []string{`train.eager_eviction (line 1): "sometimes" is not true or false`}},
		{"project window over its own max_parallel", "projects: [{forge: gitlab, path: g/a, max_parallel: 4, min_window: 5, batch_size: -1}]", forgeEnv(), []string{
			"projects[0].batch_size: must be at least 1, got -1",
			"projects[0].min_window: must be between 0 and max_parallel (4), got 5"}},
		{"negative duration", "sweep_interval: -1s", nil, []string{"sweep_interval: must be positive, got -1s"}},
		{"zero duration", "lease_ttl: 0s\nclaim_idle: 0s", nil, []string{
			"lease_ttl: must be positive, got 0s", "claim_idle: must be positive, got 0s"}},
		{"pipeline_timeout", "train: {pipeline_timeout: -90m}", nil, []string{"train.pipeline_timeout: must be positive, got -1h30m"}},
		{"webhook", "webhook: {max_body: 0, dedup_ttl: -1h}", nil, []string{
			"webhook.max_body: must be at least 1, got 0", "webhook.dedup_ttl: must be positive, got -1h"}},
		{"listen without port", "listen: localhost", nil, []string{`listen: must be host:port, got "localhost"`}},
		{"listen bad port", `listen: ":99999"`, nil, []string{`listen: must be host:port, got ":99999"`}},
		{"metrics_listen without port", "metrics_listen: localhost", nil, []string{`metrics_listen: must be host:port, got "localhost"`}},
		{"metrics_listen on listen", "listen: ':9000'\nmetrics_listen: ':9000'", nil, []string{`metrics_listen: must differ from listen, both are ":9000"`}},
		{"data_dir", `data_dir: ""`, nil, []string{"data_dir: required"}},
		{"log", "log: {level: verbose, format: text}", nil, []string{
			`log.level: must be debug, info, warn or error, got "verbose"`,
			`log.format: must be json or console, got "text"`}},
		{"redis url and addrs", "redis: {url: redis://a:1, addrs: [b:2]}", nil, []string{"redis: set url or addrs, not both"}},
		{"redis url and addrs from env", "redis: {url: redis://a:1}", map[string]string{"TRAINYARD_REDIS_ADDRS": "b:2"}, []string{
			"redis: set url or addrs, not both"}},
		{"redis neither", `redis: {url: ""}`, nil, []string{"redis: set url or addrs"}},
		{"redis scheme", "redis: {url: http://x}", nil, []string{"redis.url: invalid URL scheme: http"}},
		{"redis db", "redis: {url: redis://x/db}", nil, []string{`redis.url: invalid database number: "db"`}},
		{"redis url parse hides password", `redis: {url: "redis://u:hunter2@host:port/0"}`, nil, []string{
			`redis.url: invalid port ":port" after host`}},
		{"master_name with url", "redis: {master_name: mymaster}", nil, []string{
			"redis.master_name: needs addrs (the Sentinel addresses), not url"}},
		{"redis addrs", "redis: {addrs: ['a:1', b]}", nil, []string{`redis.addrs[1]: must be host:port, got "b"`}},
		{"redis prefix", `redis: {prefix: ""}`, nil, []string{"redis.prefix: required"}},
		{"bot", "bot: {name: ' ', email: 'a <b>'}", nil, []string{
			"bot.name: required", `bot.email: must not contain <, > or a line break, got "a <b>"`}},
		{"gitlab credentials", gitlabProject, nil, []string{
			"gitlab.url: required when gitlab projects are configured (set it or TRAINYARD_GITLAB_URL)",
			"gitlab.token: required when gitlab projects are configured (set it, gitlab.token_file, or TRAINYARD_GITLAB_TOKEN)",
			"gitlab.webhook_secret: required when gitlab projects are configured (set it, gitlab.webhook_secret_file, or TRAINYARD_GITLAB_WEBHOOK_SECRET)"}},
		{"github credentials", "projects: [{forge: github, path: o/r}]", nil, []string{
			"github.token: required when github projects are configured (set it, github.token_file, or TRAINYARD_GITHUB_TOKEN), or a GitHub App: github.app_id, installation_id and private_key",
			"github.webhook_secret: required when github projects are configured (set it, github.webhook_secret_file, or TRAINYARD_GITHUB_WEBHOOK_SECRET)"}},
		{"empty secret from env is unset", gitlabProject,
			map[string]string{"TRAINYARD_GITLAB_URL": "https://g", "TRAINYARD_GITLAB_TOKEN": "t", "TRAINYARD_GITLAB_WEBHOOK_SECRET": ""}, []string{
				"gitlab.webhook_secret: required when gitlab projects are configured (set it, gitlab.webhook_secret_file, or TRAINYARD_GITLAB_WEBHOOK_SECRET)"}},
		{"unused forge needs no credentials, but a sane url", "gitlab: {url: 'ftp://x'}\ngithub: {url: 'https://u:pw@h/api'}", nil, []string{
			`gitlab.url: must be an http or https URL, got "ftp://x"`}},
		{"project forge", "projects: [{forge: gitea, path: g/a}]", nil, []string{`projects[0].forge: must be gitlab or github, got "gitea"`}},
		{"project path", "projects: [{forge: gitlab, path: app}, {forge: gitlab, path: 'g//a'}, {forge: github, path: o/r/x}]", forgeEnv(), []string{
			`projects[0].path: must be the full path like group/project, got "app"`,
			`projects[1].path: must be the full path like group/project, got "g//a"`,
			`projects[2].path: must be the full path like owner/repo, got "o/r/x"`}},
		{"duplicate project", "projects: [{forge: gitlab, path: g/a}, {forge: github, path: g/a}, {forge: gitlab, path: G/A}]", forgeEnv(), []string{
			"projects[2]: duplicates projects[0] (gitlab g/a)"}},
		{"branches", `projects: [{forge: gitlab, path: g/a, branches: ["", "a b", "[x", "x..y", "ok/*"]}]`, forgeEnv(), []string{
			"projects[0].branches[0]: empty branch name",
			`projects[0].branches[1]: "a b" is not a valid git ref name`,
			`projects[0].branches[2]: bad pattern "[x": syntax error in pattern`,
			`projects[0].branches[3]: "x..y" is not a valid git ref name`}},
		{"project overrides", "projects: [{forge: gitlab, path: g/a, max_parallel: 0, retries: -2, pipeline_timeout: 0s, method: fast}]", forgeEnv(), []string{
			"projects[0].max_parallel: must be at least 1, got 0",
			"projects[0].retries: must be at least 0, got -2",
			"projects[0].pipeline_timeout: must be positive, got 0s",
			`projects[0].method: must be merge, squash or rebase, got "fast"`}},
		{"protect_reads", "api: {protect_reads: yes}", nil, []string{`api.protect_reads (line 1): "yes" is not true or false`}},
		{"reads private on the API only", "api: {protect_reads: true}", nil, []string{
			"ui.public: must be false when api.protect_reads is true: the dashboard would show anyone the trains the API hides"}},
		{"reads private on the dashboard only", "ui: {public: false}", nil, []string{
			"api.protect_reads: must be true when ui.public is false: the API would show anyone the trains the dashboard hides"}},
		{"protect_reads from env", "", map[string]string{"TRAINYARD_API_PROTECT_READS": "1"}, []string{
			`TRAINYARD_API_PROTECT_READS: "1" is not true or false`}},
		{"api tokens", joinLines("api:",
			"  token: same-token-of-a-good-length-0001",
			"  tokens:",
			"    - {name: api, role: write, token: other-token-of-a-good-length-01}",
			"    - {name: 'ci bot', role: admin, token: short}",
			"    - {name: ci, role: read}",
			"    - {name: ci, role: read, token: same-token-of-a-good-length-0001}",
			"    - {role: write, tokn: x}"), nil, []string{
			`line 8: unknown field "tokn" in an entry of api.tokens`,
			`api.tokens[0].name: "api" names api.token; choose another name`,
			`api.tokens[1].name: want up to 64 letters, digits, '.', '_' and '-', got "ci bot"`,
			`api.tokens[1].role: must be read or write, got "admin"`,
			"api.tokens[1].token: is 5 characters long, want at least 16; use a random value such as the output of `openssl rand -hex 32`",
			"api.tokens[2].token: required (set it or api.tokens[2].token_file)",
			`api.tokens[3].name: duplicates api.tokens[2] ("ci")`,
			"api.tokens[3].token: is the same as another API token; each token must be its own, or the history cannot tell them apart",
			"api.tokens[4].name: required: the name the history records",
			"api.tokens[4].token: required (set it or api.tokens[4].token_file)"}},
		{"notify kind and url", "notify: [{}, {kind: teams, url: 'https://x'}]", nil, []string{
			`notify[0].kind: must be slack or mattermost, got ""`,
			"notify[0].url: required (set it or notify[0].url_file)",
			`notify[1].kind: must be slack or mattermost, got "teams"`}},
		{"notify filters", `notify: [{kind: slack, url: 'https://x', forge: gitea, branches: ["a b"], events: [merged, failed]}]`, nil, []string{
			`notify[0].forge: must be gitlab or github, got "gitea"`,
			`notify[0].branches[0]: "a b" is not a valid git ref name`,
			`notify[0].events[1]: must be merged, evicted, paused or resumed, got "failed"`}},
		{"notify names", joinLines("notify:",
			"  - {kind: slack, url: 'https://a', name: ops}",
			"  - {kind: slack, url: 'https://b', name: ops}",
			"  - {kind: slack, url: 'https://c', name: 'slack#3'}",
			"  - {kind: slack, url: 'https://d'}"), nil, []string{
			`notify[1].name: duplicates notify[0] ("ops")`,
			`notify[3].name: duplicates notify[2] ("slack#3")`}},
		{"notify retry_for", "notify: [{kind: slack, url: 'https://x', retry_for: -5m}, {kind: slack, url: 'https://y', retry_for: soon}]", nil, []string{
			`notify[1].retry_for (line 1): "soon" is not a duration (write it like 30s, 5m or 2h)`,
			"notify[0].retry_for: must be positive, got -5m"}},
		{"notify as a value", "notify: slack", nil, []string{"line 1: notify must be a list, got a single value"}},
		{"unknown notify key", "notify:\n  - kind: slack\n    url: https://x\n    channel: x\n", nil, []string{
			`line 4: unknown field "channel" in an entry of notify`}},
		{"github app and token", "github: {app_id: 7, installation_id: 9}\nprojects: [{forge: github, path: o/r}]",
			withEnv(forgeEnv(), "TRAINYARD_GITHUB_PRIVATE_KEY", testKeyPEM), []string{
				"github.token: set a token or a GitHub App (github.app_id, installation_id and private_key), not both"}},
		{"github app incomplete", "github: {app_id: 7, private_key: 'not a key'}\nprojects: [{forge: github, path: o/r}]",
			map[string]string{"TRAINYARD_GITHUB_WEBHOOK_SECRET": "a-long-enough-secret"}, []string{
				"github.installation_id: required with a GitHub App, a positive number, got 0",
				"github.private_key: not a PEM-encoded RSA private key: invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key"}},
		{"github app without a key", "github: {app_id: 7, installation_id: 9}", nil, []string{
			"github.private_key: required with a GitHub App (set it, github.private_key_file, or TRAINYARD_GITHUB_PRIVATE_KEY)"}},
		{"github repository settings", joinLines(
			"github: {required_checks: [ci, ' '], workflows: [ci.yml, .github/workflows/x.yml, build], fast_forward: rest}",
			"projects:",
			"  - {forge: github, path: o/r, required_checks: [''], workflows: [a.json], fast_forward: merge}",
			"  - {forge: gitlab, path: g/a, required_checks: [ci], workflows: [], fast_forward: api, branch_checks: false}"), forgeEnv(), []string{
			"github.required_checks[1]: empty check name",
			`github.workflows[1]: must be a workflow file name like ci.yml, got ".github/workflows/x.yml"`,
			`github.workflows[2]: must be a workflow file name like ci.yml, got "build"`,
			`github.fast_forward: must be push or api, got "rest"`,
			"projects[0].required_checks[0]: empty check name",
			`projects[0].workflows[0]: must be a workflow file name like ci.yml, got "a.json"`,
			`projects[0].fast_forward: must be push or api, got "merge"`,
			"projects[1].fast_forward: only GitHub projects have it",
			"projects[1].required_checks: only GitHub projects have it",
			"projects[1].workflows: only GitHub projects have it",
			"projects[1].branch_checks: only GitHub projects have it"}},
		{"gitlab pipelines", "gitlab: {pipelines: trigger}", forgeEnv(), []string{
			`gitlab.pipelines: must be push or api, got "trigger"`}},
		{"whose checks count", joinLines(
			"github: {check_apps: [github-actions, '12345', 'Evil CI', -x], status_creators: [jenkins-ci, 'ci[bot]', 'a--b', 'a b']}",
			"projects:",
			"  - {forge: github, path: o/r, check_apps: [''], status_creators: [x/y]}",
			"  - {forge: gitlab, path: g/a, check_apps: [ci], status_creators: [bot]}"), forgeEnv(), []string{
			`github.check_apps[2]: want a GitHub App's slug (like github-actions) or numeric id, got "Evil CI"`,
			`github.check_apps[3]: want a GitHub App's slug (like github-actions) or numeric id, got "-x"`,
			`github.status_creators[2]: want a GitHub login (like jenkins-bot or ci[bot]), got "a--b"`,
			`github.status_creators[3]: want a GitHub login (like jenkins-bot or ci[bot]), got "a b"`,
			`projects[0].check_apps[0]: want a GitHub App's slug (like github-actions) or numeric id, got ""`,
			`projects[0].status_creators[0]: want a GitHub login (like jenkins-bot or ci[bot]), got "x/y"`,
			"projects[1].check_apps: only GitHub projects have it",
			"projects[1].status_creators: only GitHub projects have it"}},
		{"project secrets replace the forge's", "projects: [{forge: github, path: o/r, webhook_secret: a-long-enough-secret}, {forge: github, path: o/s}]",
			map[string]string{"TRAINYARD_GITHUB_TOKEN": "t"}, []string{
				"github.webhook_secret: required when github projects are configured (set it, github.webhook_secret_file, or TRAINYARD_GITHUB_WEBHOOK_SECRET)"}},
		{"weak secrets", joinLines(
			"gitlab: {webhook_secret: short}",
			"github: {webhook_secret: '                    '}",
			"api: {token: 'fifteen-chars15'}",
			"projects:",
			"  - {forge: gitlab, path: g/a, webhook_secret: 'x'}",
			"  - {forge: github, path: o/r}"),
			map[string]string{"TRAINYARD_GITLAB_URL": "https://g", "TRAINYARD_GITLAB_TOKEN": "t", "TRAINYARD_GITHUB_TOKEN": "t"}, []string{
				"gitlab.webhook_secret: is 5 characters long, want at least 16; use a random value such as the output of `openssl rand -hex 32`",
				"github.webhook_secret: is only white space; use a random value such as the output of `openssl rand -hex 32`",
				"api.token: is 15 characters long, want at least 16; use a random value such as the output of `openssl rand -hex 32`",
				"projects[0].webhook_secret: is 1 character long, want at least 16; use a random value such as the output of `openssl rand -hex 32`"}},
		{"merge rules and pause role", joinLines(
			"train: {pause_role: boss}",
			"projects: [{forge: gitlab, path: g/a, merge_rules: off, pause_role: owner}]"),
			forgeEnv(), []string{
				`train.pause_role (line 1): "boss" is not one of guest, reporter, developer, maintainer or owner, nor a GitHub role: read, triage, write, maintain or admin`,
				`projects[0].merge_rules: must be forge or none, got "off"`}},
		{"method", "train: {method: fast}", nil, []string{`train.method: must be merge, squash or rebase, got "fast"`}},
		{"car_prefix", "train: {car_prefix: 'a..b'}", nil, []string{`train.car_prefix: "a..b" is not a valid git ref name`}},
		{"unknown access level", "train: {min_access: boss}", nil, []string{
			`train.min_access (line 1): "boss" is not one of guest, reporter, developer, maintainer or owner, nor a GitHub role: read, triage, write, maintain or admin`}},
		{"access none refused", "projects:\n  - {forge: gitlab, path: g/a, min_access: none}", forgeEnv(), []string{
			`projects[0].min_access (line 2): "none" is not one of guest, reporter, developer, maintainer or owner, nor a GitHub role: read, triage, write, maintain or admin`}},
		{"values that do not parse", "workers: four\nsweep_interval: soon\nwebhook:\n  max_body: 5XB\n", nil, []string{
			`workers (line 1): "four" is not an integer`,
			`sweep_interval (line 2): "soon" is not a duration (write it like 30s, 5m or 2h)`,
			`webhook.max_body (line 4): "5XB" is not a size (write bytes, or a number and a unit like 512KiB or 5MiB)`}},
		{"mapping for a value", "listen: {a: b}", nil, []string{"listen (line 1): want a value, got a mapping"}},
		{"list for a value", "workers: [1, 2]", nil, []string{"workers (line 1): want one value, got a list"}},
		{"mapping in a list", "redis: {addrs: [{a: b}]}", nil, []string{"redis.addrs (line 1): item 0: want a single value, got a mapping"}},
		{"unknown key", "listen: ':1'\nredis:\n  urll: y\n", nil, []string{`line 3: unknown field "urll" in redis`}},
		{"unknown top-level key", "listen: ':1'\nlistne: x", nil, []string{`line 2: unknown field "listne"`}},
		{"unknown github key", "github:\n  tokne: x", nil, []string{`line 2: unknown field "tokne" in github`}},
		{"unknown project key", "projects:\n  - forge: gitlab\n    path: g/a\n    branch: main\n", forgeEnv(), []string{
			`line 4: unknown field "branch" in an entry of projects`}},
		{"key set twice", "workers: 2\nworkers: 3", nil, []string{`line 2: field "workers" set twice (first on line 1)`}},
		{"section as a value hides the value", "gitlab: glpat-0123456789", nil, []string{"line 1: gitlab must be a mapping, got a single value"}},
		{"projects as a value", "projects: all", nil, []string{"line 1: projects must be a list, got a single value"}},
		{"project as a value", "projects: [g/a]", nil, []string{"line 1: an entry of projects must be a mapping, got a single value"}},
		{"file as a value", "hello", nil, []string{"line 1: the file must be a mapping of settings, got a single value"}},
		{"two documents", "workers: 2\n---\nworkers: 3\n", nil, []string{"the file holds more than one YAML document"}},
		{"all at once, in table order", "workers: 0\nfoo: 1\ntrain: {max_parallel: 0}\nprojects: [{forge: gitea, path: g/a}]", nil, []string{
			`line 2: unknown field "foo"`,
			"workers: must be at least 1, got 0",
			"train.max_parallel: must be at least 1, got 0",
			`projects[0].forge: must be gitlab or github, got "gitea"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), envMap(tt.env), nil)
			if c != nil {
				t.Errorf("Parse returned a config with an error")
			}
			wantProblems(t, err, tt.want...)
			if err != nil && strings.Contains(err.Error(), "hunter2") || err != nil && strings.Contains(err.Error(), "glpat") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Parse([]byte("workers: 2\n  listen: [\n"), nil, nil)
	wantProblems(t, err, "yaml: line 2: mapping values are not allowed in this context")
}

func TestErrorMessage(t *testing.T) {
	one := &Error{Source: "a.yaml", Problems: []error{fieldErr("workers", "must be at least 1, got 0")}}
	if got, want := one.Error(), "config a.yaml: workers: must be at least 1, got 0"; got != want {
		t.Errorf("one problem: got %q, want %q", got, want)
	}
	two := &Error{Problems: []error{fieldErr("a", "x"), &FieldError{Field: "b", Line: 3, Err: one.Problems[0]}}}
	if got, want := two.Error(), "config: 2 problems:\n  a: x\n  b (line 3): workers: must be at least 1, got 0"; got != want {
		t.Errorf("two problems: got %q, want %q", got, want)
	}
}

func TestDefaultsValidate(t *testing.T) {
	c := Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	c.Workers = 0
	c.Train.MinAccess = 0
	err := c.Validate()
	wantProblems(t, err, "workers: must be at least 1, got 0", "train.min_access: must be guest, reporter, developer, maintainer or owner, got none")
}
