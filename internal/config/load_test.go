package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

func TestExampleValidates(t *testing.T) {
	c := mustParse(t, readRepoFile(t, "configs/trainyard.example.yaml"), forgeEnv())
	if got, want := c.GitLab.Token.Reveal(), "glpat-example-token"; got != want {
		t.Errorf("gitlab token = %q, want %q", got, want)
	}
	got := c.Settings(ForgeGitLab, "group/app")
	var specs []string
	for _, f := range got.Schedule.Freezes {
		specs = append(specs, f.Spec)
	}
	for _, w := range got.Schedule.Windows {
		specs = append(specs, w.Spec)
	}
	if want := []string{"2026-12-24 2027-01-04 Europe/Berlin Year-end freeze", "2026-06-30T16:00 2026-07-01T10:00 UTC Release 3.0 cut",
		"Mon-Thu 09:00-17:00 Europe/Berlin", "Fri 09:00-12:00 Europe/Berlin"}; !slices.Equal(specs, want) {
		t.Errorf("group/app schedule = %q, want %q", specs, want)
	}
	got.Schedule = train.Schedule{}
	if want := (train.Settings{
		MaxParallel: 10, BatchSize: 4, MaxBatchSize: 16, MinWindow: 2, BisectParallel: 5, Retries: 1, PipelineTimeout: 90 * time.Minute, Method: train.MethodSquash,
		Lanes:      []train.Lane{{Name: "api", Paths: []string{"services/api/**", "libs/api/"}}, {Name: "web", Paths: []string{"web/**", "**/*.css"}}},
		LaneTrains: true,
	}); !reflect.DeepEqual(got, want) {
		t.Errorf("group/app settings = %+v, want %+v", got, want)
	}
	if got, want := c.Settings(ForgeGitHub, "example/service"), (train.Settings{
		MaxParallel: 20, BatchSize: train.DefaultBatchSize, PipelineTimeout: 2 * time.Hour, Method: train.MethodMerge,
	}); !reflect.DeepEqual(got, want) {
		t.Errorf("example/service settings = %+v, want %+v", got, want)
	}
	if got := c.MinAccess(ForgeGitLab, "group/app"); got != forge.Maintainer {
		t.Errorf("group/app min access = %v, want maintainer", got)
	}
	if !c.BranchAllowed(ForgeGitLab, "group/app", "release/1.2") || c.BranchAllowed(ForgeGitLab, "group/app", "dev") {
		t.Errorf("group/app branches %q: release/1.2 must be allowed and dev not", c.Projects[0].Branches)
	}
	if !reflect.DeepEqual(c.API, API{}) {
		t.Errorf("api = %+v, want no token and open reads", c.API)
	}
	want := []NotifyRoute{{
		Name: "releases", Forge: ForgeGitLab, Project: "group/app", Branches: []string{"main", "release/*"},
		Kind: NotifySlack, URL: NewSecret("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
		Events: []string{EventMerged, EventEvicted}, Username: "Trainyard", IconURL: "https://trainyard.example.com/icon.png",
		RetryFor: 2 * time.Hour,
	}}
	if !reflect.DeepEqual(c.Notify, want) {
		t.Errorf("notify = %#v\nwant %#v", c.Notify, want)
	}
	if c.Notify[0].URL != want[0].URL {
		t.Errorf("notify url = %q", c.Notify[0].URL.Reveal())
	}
}

// The example sets every field to its default, so that it documents the
// defaults truthfully: everything outside projects and forges must equal
// Defaults().
func TestExampleShowsDefaults(t *testing.T) {
	c := mustParse(t, readRepoFile(t, "configs/trainyard.example.yaml"), forgeEnv())
	d := Defaults()
	for _, s := range configSettings() {
		if strings.HasPrefix(s.path, "gitlab.") || strings.HasPrefix(s.path, "github.") {
			continue
		}
		if got, want := s.get(c), s.get(&d); got != want {
			t.Errorf("example sets %s to %q; the default is %q", s.path, got, want)
		}
	}
}

// The file is the one --config names, else TRAINYARD_CONFIG's, else the
// first of the search paths that exists; with none, the error says what
// to do.
func TestLocate(t *testing.T) {
	t.Chdir(t.TempDir())
	set := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	flags := BindFlags(set)
	_, err := flags.Locate(envMap(nil))
	want := "no configuration file: pass --config FILE, set TRAINYARD_CONFIG, or create one of " +
		"trainyard.yaml, configs/trainyard.yaml, /etc/trainyard/trainyard.yaml (configs/trainyard.example.yaml shows every setting)"
	if _, ok := errors.AsType[*NoConfigError](err); !ok || err.Error() != want {
		if _, statErr := os.Stat("/etc/trainyard/trainyard.yaml"); statErr == nil {
			t.Skip("this machine has /etc/trainyard/trainyard.yaml")
		}
		t.Fatalf("Locate with nothing to find: %v, want %q", err, want)
	}
	if err := os.MkdirAll("configs", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("configs/trainyard.yaml", []byte("workers: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		env   map[string]string
		flags []string
		want  string
	}{
		{"search", nil, nil, "configs/trainyard.yaml"},
		{"empty variable is unset", map[string]string{ConfigEnv: ""}, nil, "configs/trainyard.yaml"},
		{"variable", map[string]string{ConfigEnv: "/srv/ty.yaml"}, nil, "/srv/ty.yaml"},
		{"flag over variable", map[string]string{ConfigEnv: "/srv/ty.yaml"}, []string{"--config", "/etc/ty.yaml"}, "/etc/ty.yaml"},
		{"working directory first", nil, nil, "trainyard.yaml"},
	} {
		if c.name == "working directory first" {
			if err := os.WriteFile("trainyard.yaml", []byte("workers: 2\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		set := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		flags := BindFlags(set)
		if err := set.Parse(c.flags); err != nil {
			t.Fatal(err)
		}
		if got, err := flags.Locate(envMap(c.env)); err != nil || got != c.want {
			t.Errorf("%s: Locate = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	// A file named but missing is Load's to report.
	path, _ := (*Flags)(nil).Locate(envMap(map[string]string{ConfigEnv: "missing.yaml"}))
	if _, err := Load(path, nil, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(%q) = %v, want a missing file", path, err)
	}
	if got := UnknownEnv([]string{ConfigEnv + "=x"}); len(got) != 0 {
		t.Fatalf("UnknownEnv calls %s unknown", got)
	}
}

func TestLoadMissingExplicitPath(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "trainyard.yaml")
	_, err := Load(missing, nil, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error = %v, want one wrapping fs.ErrNotExist", err)
	}
	if got, want := err.Error(), "read config: open "+missing+": no such file or directory"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestLoadFile(t *testing.T) {
	path := writeFile(t, "trainyard.yaml", "workers: 3\nlisten: ':9000'\n")
	c, err := Load(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 3 || c.Listen != ":9000" {
		t.Errorf("workers %d listen %q, want 3 and :9000", c.Workers, c.Listen)
	}
	path = writeFile(t, "bad.yaml", "workers: 0\nlisten: x\n")
	_, err = Load(path, nil, nil)
	want := "config " + path + ": 2 problems:\n  listen: must be host:port, got \"x\"\n  workers: must be at least 1, got 0"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// The environment variable names are an interface: renaming one breaks
// deployments, so the whole list is spelled out here.
func TestEnvNames(t *testing.T) {
	want := []string{
		"TRAINYARD_LISTEN", "TRAINYARD_METRICS_LISTEN", "TRAINYARD_DATA_DIR", "TRAINYARD_LOG_LEVEL", "TRAINYARD_LOG_FORMAT",
		"TRAINYARD_REDIS_URL", "TRAINYARD_REDIS_ADDRS", "TRAINYARD_REDIS_MASTER_NAME", "TRAINYARD_REDIS_USERNAME",
		"TRAINYARD_REDIS_PASSWORD", "TRAINYARD_REDIS_PASSWORD_FILE", "TRAINYARD_REDIS_PREFIX",
		"TRAINYARD_WORKERS", "TRAINYARD_SWEEP_INTERVAL", "TRAINYARD_LEASE_TTL", "TRAINYARD_CLAIM_IDLE", "TRAINYARD_MAX_DELIVERIES", "TRAINYARD_ACTION_TIMEOUT",
		"TRAINYARD_WEBHOOK_MAX_BODY", "TRAINYARD_WEBHOOK_DEDUP_TTL", "TRAINYARD_BOT_NAME", "TRAINYARD_BOT_EMAIL",
		"TRAINYARD_API_TOKEN", "TRAINYARD_API_TOKEN_FILE", "TRAINYARD_API_PROTECT_READS",
		"TRAINYARD_UI_ENABLED", "TRAINYARD_UI_PUBLIC", "TRAINYARD_UI_URL",
		"TRAINYARD_GITLAB_URL", "TRAINYARD_GITLAB_TOKEN", "TRAINYARD_GITLAB_TOKEN_FILE",
		"TRAINYARD_GITLAB_WEBHOOK_SECRET", "TRAINYARD_GITLAB_WEBHOOK_SECRET_FILE", "TRAINYARD_GITLAB_REQUESTS_PER_MINUTE", "TRAINYARD_GITLAB_PIPELINES",
		"TRAINYARD_GITHUB_URL", "TRAINYARD_GITHUB_TOKEN", "TRAINYARD_GITHUB_TOKEN_FILE",
		"TRAINYARD_GITHUB_WEBHOOK_SECRET", "TRAINYARD_GITHUB_WEBHOOK_SECRET_FILE",
		"TRAINYARD_GITHUB_APP_ID", "TRAINYARD_GITHUB_INSTALLATION_ID", "TRAINYARD_GITHUB_PRIVATE_KEY", "TRAINYARD_GITHUB_PRIVATE_KEY_FILE",
		"TRAINYARD_GITHUB_REQUIRED_CHECKS", "TRAINYARD_GITHUB_WORKFLOWS", "TRAINYARD_GITHUB_FAST_FORWARD", "TRAINYARD_GITHUB_BRANCH_CHECKS", "TRAINYARD_GITHUB_CHECK_APPS", "TRAINYARD_GITHUB_STATUS_CREATORS",
		"TRAINYARD_TRAIN_MAX_PARALLEL", "TRAINYARD_TRAIN_BATCH_SIZE", "TRAINYARD_TRAIN_MAX_BATCH_SIZE", "TRAINYARD_TRAIN_MIN_WINDOW", "TRAINYARD_TRAIN_BISECT_PARALLEL",
		"TRAINYARD_TRAIN_EAGER_EVICTION", "TRAINYARD_TRAIN_RETRIES", "TRAINYARD_TRAIN_PIPELINE_TIMEOUT",
		"TRAINYARD_TRAIN_METHOD", "TRAINYARD_TRAIN_CAR_PREFIX", "TRAINYARD_TRAIN_MIN_ACCESS",
		"TRAINYARD_TRAIN_MERGE_RULES", "TRAINYARD_TRAIN_PAUSE_ROLE", "TRAINYARD_TRAIN_PRIORITY_ROLE",
	}
	var got []string
	for _, s := range configSettings() {
		got = append(got, s.env())
	}
	if !slices.Equal(got, want) {
		t.Errorf("environment variables:\n got  %q\n want %q", got, want)
	}
}

// sample is a value of each kind as text and as the table renders it back.
func sample(t *testing.T, kind string) (text, want string) {
	t.Helper()
	samples := map[string][2]string{
		"string":       {"some-value", "some-value"},
		"URL":          {"https://u:pw@example.com:8443/x", "https://u:xxxxx@example.com:8443/x"},
		"list":         {"a:1, b:2,", "a:1,b:2"},
		"secret":       {"s3cret", "[redacted]"},
		"integer":      {"7", "7"},
		"boolean":      {"True", "true"},
		"duration":     {"90s", "1m30s"},
		"size":         {"2MiB", "2MiB"},
		"method":       {"rebase", "rebase"},
		"access level": {"Maintainer", "maintainer"},
	}
	s, ok := samples[kind]
	if !ok {
		t.Fatalf("no sample value for kind %q", kind)
	}
	return s[0], s[1]
}

// Every setting in the table is overridden by its environment variable,
// and by nothing else's.
func TestEnvOverridesEverySetting(t *testing.T) {
	for _, s := range configSettings() {
		t.Run(s.env(), func(t *testing.T) {
			text, want := sample(t, s.kind)
			c, _ := build(nil, envMap(map[string]string{s.env(): text}), nil)
			if got := s.get(c); got != want {
				t.Errorf("%s=%q gave %s = %q, want %q", s.env(), text, s.path, got, want)
			}
			d := Defaults()
			for _, other := range configSettings() {
				if other.path != s.path && other.get(c) != other.get(&d) && !(s.path == "redis.addrs" && other.path == "redis.url") {
					t.Errorf("%s also changed %s", s.env(), other.path)
				}
			}
		})
	}
}

func TestEnvSecretValues(t *testing.T) {
	c := mustParse(t, "", map[string]string{
		"TRAINYARD_REDIS_PASSWORD": "rpw", "TRAINYARD_GITLAB_TOKEN": "gl", "TRAINYARD_GITHUB_WEBHOOK_SECRET": "gh",
	})
	got := []string{c.Redis.Password.Reveal(), c.GitLab.Token.Reveal(), c.GitHub.WebhookSecret.Reveal()}
	if want := []string{"rpw", "gl", "gh"}; !slices.Equal(got, want) {
		t.Errorf("secrets = %q, want %q", got, want)
	}
}

func TestEnvBadValues(t *testing.T) {
	_, err := Parse(nil, envMap(map[string]string{
		"TRAINYARD_WORKERS":          "four",
		"TRAINYARD_SWEEP_INTERVAL":   "30",
		"TRAINYARD_WEBHOOK_MAX_BODY": "lots",
		"TRAINYARD_TRAIN_MIN_ACCESS": "boss",
		"TRAINYARD_TRAIN_RETRIES":    "-1",
	}), nil)
	wantProblems(t, err,
		`TRAINYARD_WORKERS: "four" is not an integer`,
		`TRAINYARD_SWEEP_INTERVAL: "30" is not a duration (write it like 30s, 5m or 2h)`,
		`TRAINYARD_WEBHOOK_MAX_BODY: "lots" is not a size (write bytes, or a number and a unit like 512KiB or 5MiB)`,
		`TRAINYARD_TRAIN_MIN_ACCESS: "boss" is not one of guest, reporter, developer, maintainer or owner, nor a GitHub role: read, triage, write, maintain or admin`,
		"train.retries: must be at least 0, got -1",
	)
}

func TestEnvEmptyIsUnset(t *testing.T) {
	c := mustParse(t, "workers: 3\nlisten: ':1'", map[string]string{"TRAINYARD_WORKERS": "", "TRAINYARD_LISTEN": ""})
	if c.Workers != 3 || c.Listen != ":1" {
		t.Errorf("empty variables changed settings: workers %d listen %q", c.Workers, c.Listen)
	}
}

func TestRedisAddrsReplaceDefaultURL(t *testing.T) {
	c := mustParse(t, "redis: {addrs: ['a:1', 'b:2']}", nil)
	if c.Redis.URL != "" || !slices.Equal(c.Redis.Addrs, []string{"a:1", "b:2"}) {
		t.Errorf("redis = %+v, want addrs only", c.Redis)
	}
	c = mustParse(t, "", map[string]string{"TRAINYARD_REDIS_ADDRS": "s1:26379,s2:26379", "TRAINYARD_REDIS_MASTER_NAME": "m"})
	if c.Redis.URL != "" || len(c.Redis.Addrs) != 2 || c.Redis.MasterName != "m" {
		t.Errorf("redis = %+v, want two sentinels and no url", c.Redis)
	}
}

// Each layer overrides the one below for every flagged setting: flag over
// environment over file over default.
func TestPrecedence(t *testing.T) {
	layers := map[string][4]string{ // default, file, env, flag
		"listen":         {"127.0.0.1:8080", ":1001", ":1002", ":1003"},
		"data_dir":       {"/var/lib/trainyard", "/file", "/env", "/flag"},
		"log.level":      {"info", "warn", "error", "debug"},
		"redis.url":      {DefaultRedisURL, "redis://file:1", "redis://env:1", "redis://flag:1"},
		"workers":        {"4", "5", "6", "7"},
		"sweep_interval": {"30s", "1m", "2m", "3m"},
	}
	flagged := 0
	for _, s := range configSettings() {
		if !s.flag {
			continue
		}
		flagged++
		v, ok := layers[s.path]
		if !ok {
			t.Fatalf("flag --%s has no precedence case", s.flagName())
		}
		file := yamlFor(s.path, v[1])
		for n := range 4 {
			env := map[string]string{}
			if n >= 2 {
				env[s.env()] = v[2]
			}
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			flags := BindFlags(fs)
			var args []string
			if n >= 3 {
				args = []string{"--" + s.flagName(), v[3]}
			}
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			data := ""
			if n >= 1 {
				data = file
			}
			c, err := Parse([]byte(data), envMap(env), flags)
			if err != nil {
				t.Fatalf("%s, layer %d: %v", s.path, n, err)
			}
			if got := s.get(c); got != v[n] {
				t.Errorf("%s with %d layers = %q, want %q", s.path, n+1, got, v[n])
			}
		}
	}
	if flagged != len(layers) {
		t.Errorf("%d flagged settings, %d precedence cases", flagged, len(layers))
	}
}

// yamlFor writes one setting as YAML: "log.level" -> "log:\n  level: x".
func yamlFor(path, v string) string {
	parts := strings.Split(path, ".")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i < len(parts)-1 {
			b.WriteString("\n")
		}
	}
	return b.String() + " '" + v + "'\n"
}

func TestFlags(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	flags := BindFlags(fs)
	err := fs.Parse([]string{"--workers", "four"})
	if err == nil || err.Error() != `invalid argument "four" for "--workers" flag: "four" is not an integer` {
		t.Errorf("bad flag error = %v", err)
	}
	if err := fs.Parse([]string{"--config", "/etc/ty.yaml", "--sweep-interval=5s"}); err != nil {
		t.Fatal(err)
	}
	if got, err := flags.Locate(nil); err != nil || got != "/etc/ty.yaml" {
		t.Errorf("Locate = %q, %v", got, err)
	}
	c, err := Parse([]byte("sweep_interval: 1m\nworkers: 2"), nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	if c.SweepInterval != 5*time.Second || c.Workers != 2 {
		t.Errorf("sweep %v workers %d, want 5s from the flag and 2 from the file", c.SweepInterval, c.Workers)
	}
	usage := fs.FlagUsages()
	for _, want := range []string{"--workers integer", "Overrides workers and TRAINYARD_WORKERS.", "--redis-url URL"} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, usage)
		}
	}
	if strings.Contains(usage, "(default 4)") {
		t.Errorf("usage shows a default the file or environment may change:\n%s", usage)
	}
}

func TestSecretFiles(t *testing.T) {
	token := writeFile(t, "token", "  glpat-from-file\n")
	hook := writeFile(t, "hook", "hook-from-file-0123")
	yaml := joinLines(
		"gitlab:",
		"  url: https://gitlab.example.com",
		"  token_file: "+token,
		"projects: [{forge: gitlab, path: g/a}]",
	)
	c := mustParse(t, yaml, map[string]string{"TRAINYARD_GITLAB_WEBHOOK_SECRET_FILE": hook})
	if got := c.GitLab.Token.Reveal(); got != "glpat-from-file" {
		t.Errorf("token = %q, want it trimmed from the file", got)
	}
	if got := c.GitLab.WebhookSecret.Reveal(); got != "hook-from-file-0123" {
		t.Errorf("webhook secret = %q", got)
	}
}

func TestSecretFileProblems(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	empty := writeFile(t, "empty", " \n")
	big := writeFile(t, "big", strings.Repeat("x", maxSecretFile+1))
	secret := writeFile(t, "secret", "do-not-show-me")
	yaml := joinLines(
		"redis:",
		"  password_file: "+missing,
		"gitlab:",
		"  url: https://gitlab.example.com",
		"  token: inline",
		"  token_file: "+secret,
		"  webhook_secret_file: "+empty,
		"github:",
		"  token_file: "+big,
		"  webhook_secret_file: "+dir,
		"projects: [{forge: gitlab, path: g/a}, {forge: github, path: o/r}]",
	)
	_, err := Parse([]byte(yaml), nil, nil)
	wantProblems(t, err,
		"redis.password_file: cannot read: open "+missing+": no such file or directory",
		"gitlab.token_file: set only one of gitlab.token (or TRAINYARD_GITLAB_TOKEN) and gitlab.token_file",
		"gitlab.webhook_secret_file: file "+empty+" is empty",
		"github.token_file: file "+big+" is larger than 65536 bytes; is it the right file?",
		"github.webhook_secret_file: cannot read "+dir+": read "+dir+": is a directory",
	)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error does not wrap fs.ErrNotExist: %v", err)
	}
	if strings.Contains(err.Error(), "do-not-show-me") || strings.Contains(err.Error(), "inline") {
		t.Errorf("error shows a secret: %v", err)
	}
}

func TestNewSecretFiles(t *testing.T) {
	token := writeFile(t, "api", "api-token-from-file\n")
	hook := writeFile(t, "hook", " https://chat.example.com/hooks/abc \n")
	c := mustParse(t, joinLines(
		"api: {token_file: "+token+"}",
		"notify:",
		"  - {kind: slack, url: https://hooks.slack.com/x}",
		"  - {kind: mattermost, url_file: "+hook+"}",
	), nil)
	if got := c.API.Token.Reveal(); got != "api-token-from-file" {
		t.Errorf("api token = %q, want it trimmed from the file", got)
	}
	got := []string{c.Notify[0].URL.Reveal(), c.Notify[1].URL.Reveal(), c.Notify[0].Name, c.Notify[1].Name}
	if want := []string{"https://hooks.slack.com/x", "https://chat.example.com/hooks/abc", "slack#0", "mattermost#1"}; !slices.Equal(got, want) {
		t.Errorf("notify urls and names = %q, want %q", got, want)
	}
	// A named token can live in a file too.
	named := writeFile(t, "grafana", "grafana-token-from-file\n")
	c = mustParse(t, joinLines(
		"api:",
		"  tokens:",
		"    - {name: grafana, role: read, token_file: "+named+"}",
	), nil)
	if len(c.API.Tokens) != 1 || c.API.Tokens[0].Token.Reveal() != "grafana-token-from-file" || c.API.Tokens[0].Name != "grafana" {
		t.Errorf("named token from a file = %+v", c.API.Tokens)
	}
	c = mustParse(t, "", map[string]string{"TRAINYARD_API_TOKEN_FILE": token, "TRAINYARD_API_PROTECT_READS": "true", "TRAINYARD_UI_PUBLIC": "false"})
	if c.API.Token.Reveal() != "api-token-from-file" || !c.API.ProtectReads {
		t.Errorf("api from the environment = %q, protect reads %v", c.API.Token.Reveal(), c.API.ProtectReads)
	}
}

func TestNewSecretFileProblems(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	hook := writeFile(t, "hook", "https://hide.example.com/hooks/secret-path")
	_, err := Parse([]byte(joinLines(
		"api: {token_file: "+missing+"}",
		"notify:",
		"  - {kind: slack, url: 'https://inline.example.com/hooks/x', url_file: "+hook+"}",
		"  - {kind: slack, url_file: "+missing+"}",
	)), envMap(map[string]string{"TRAINYARD_API_TOKEN": "api-env"}), nil)
	wantProblems(t, err,
		"api.token_file: set only one of api.token (or TRAINYARD_API_TOKEN) and api.token_file",
		"notify[0].url_file: set only one of notify[0].url and notify[0].url_file",
		"notify[1].url_file: cannot read: open "+missing+": no such file or directory",
	)
	for _, s := range []string{"api-env", "inline.example.com", "secret-path"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error shows secret %q: %v", s, err)
		}
	}
}

func TestSecretEnvAndFileConflict(t *testing.T) {
	file := writeFile(t, "token", "t")
	_, err := Parse([]byte("github: {token_file: "+file+"}"), envMap(map[string]string{"TRAINYARD_GITHUB_TOKEN": "t2"}), nil)
	wantProblems(t, err, "github.token_file: set only one of github.token (or TRAINYARD_GITHUB_TOKEN) and github.token_file")
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"TRAINYARD_WORKERS=2", "TRAINYARD_WORKER=3", "HOME=/root", "TRAINYARD_GITLAB_TOKN=x", "TRAINYARD_LISTEN"})
	if want := []string{"TRAINYARD_GITLAB_TOKN", "TRAINYARD_WORKER"}; !slices.Equal(got, want) {
		t.Errorf("UnknownEnv = %q, want %q", got, want)
	}
}

func TestUI(t *testing.T) {
	if c := mustParse(t, "", nil); !c.UI.Enabled || !c.UI.Public {
		t.Errorf("default ui = %+v, want enabled and public", c.UI)
	}
	if c := mustParse(t, "ui: {public: false}\napi: {protect_reads: true}", nil); !c.UI.Enabled || c.UI.Public {
		t.Errorf("ui from the file = %+v, want enabled and not public", c.UI)
	}
	if c := mustParse(t, "", map[string]string{"TRAINYARD_UI_ENABLED": "false"}); c.UI.Enabled {
		t.Errorf("ui from the environment = %+v, want disabled", c.UI)
	}
}

// A secret file others may read is used, and named for a warning; one
// its owner alone reads is not.
func TestExposedSecretFiles(t *testing.T) {
	private := writeFile(t, "api.token", "api-token-of-a-good-length-00001\n")
	shared := writeFile(t, "gitlab.token", "glpat-shared-token\n")
	if err := os.Chmod(shared, 0o644); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, joinLines(
		"api: {token_file: "+private+"}",
		"gitlab: {url: https://gitlab.example.com, token_file: "+shared+", webhook_secret: a-webhook-secret-of-some-length}",
	), nil)
	got := c.ExposedSecretFiles()
	if len(got) != 1 || got[0].Setting != "gitlab.token_file" || got[0].Path != shared || got[0].Mode != 0o644 {
		t.Fatalf("exposed secret files = %+v, want %s alone, as gitlab.token_file with mode 0644", got, shared)
	}
	if c.GitLab.Token.Reveal() != "glpat-shared-token" {
		t.Fatalf("the shared file's token was not used")
	}
}
