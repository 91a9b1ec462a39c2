package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// EnvPrefix starts every environment variable that overrides a setting.
const EnvPrefix = "TRAINYARD_"

// A setting is one scalar setting of a T (Config, or Project for the keys
// of a projects entry): its path in the YAML file, how text becomes its
// value, and its documentation. The environment variable and flag names
// derive from the path.
type setting[T any] struct {
	path string // YAML path: "redis.url"
	kind string // type name for the documentation and flag help
	doc  string
	flag bool // also a command-line flag of trainyard serve
	set  func(t *T, v value) error
	get  func(t *T) string // the current value as the documentation shows it
	ptr  func(t *T) any    // the field: *V, or **V for an optional one
}

// env is the variable overriding the setting: TRAINYARD_REDIS_URL.
func (s setting[T]) env() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(s.path, ".", "_"))
}

// flagName is the flag overriding the setting: --redis-url.
func (s setting[T]) flagName() string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(s.path)
}

func (s setting[T]) withFlag() setting[T] {
	s.flag = true
	return s
}

// value is a setting's text as given: one string (from the file, the
// environment or a flag), or the items of a YAML list.
type value struct {
	text  string
	items []string
	list  bool
}

func (v value) one() (string, error) {
	if v.list {
		return "", errors.New("want one value, got a list")
	}
	return v.text, nil
}

// values gives a list setting's items; a single value is a
// comma-separated list, which is how the environment and flags write one.
func (v value) values() []string {
	if v.list {
		return v.items
	}
	var out []string
	for item := range strings.SplitSeq(v.text, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func bind[T, V any](k kind[V], path, doc string, ptr func(*T) *V) setting[T] {
	return setting[T]{
		path: path, kind: k.name, doc: doc,
		set: func(t *T, v value) error {
			x, err := parseValue(k, v)
			if err == nil {
				*ptr(t) = x
			}
			return err
		},
		get: func(t *T) string { return k.format(*ptr(t)) },
		ptr: func(t *T) any { return ptr(t) },
	}
}

// bindOptional binds a project setting that overrides a train default.
func bindOptional[V any](k kind[V], path, doc string, ptr func(*Project) **V) setting[Project] {
	return setting[Project]{
		path: path, kind: k.name, doc: doc,
		set: func(p *Project, v value) error {
			x, err := parseValue(k, v)
			if err == nil {
				*ptr(p) = &x
			}
			return err
		},
		get: func(p *Project) string {
			if x := *ptr(p); x != nil {
				return k.format(*x)
			}
			return ""
		},
		ptr: func(p *Project) any { return ptr(p) },
	}
}

func bindList[T any](path, doc string, ptr func(*T) *[]string) setting[T] {
	return setting[T]{
		path: path, kind: "list", doc: doc,
		set: func(t *T, v value) error { *ptr(t) = v.values(); return nil },
		get: func(t *T) string { return strings.Join(*ptr(t), ",") },
		ptr: func(t *T) any { return ptr(t) },
	}
}

// bindItems binds a list whose items hold commas and spaces of their own
// (a freeze's reason, a window's days): a single value is one item, not a
// comma-separated list.
func bindItems[T any](path, doc string, ptr func(*T) *[]string) setting[T] {
	s := bindList(path, doc, ptr)
	s.set = func(t *T, v value) error {
		switch {
		case v.list:
			*ptr(t) = v.items
		case strings.TrimSpace(v.text) == "":
			*ptr(t) = nil
		default:
			*ptr(t) = []string{v.text}
		}
		return nil
	}
	return s
}

func parseValue[V any](k kind[V], v value) (V, error) {
	s, err := v.one()
	if err != nil {
		var zero V
		return zero, err
	}
	return k.parse(s)
}

// configSettings is the table of every scalar setting outside projects.
func configSettings() []setting[Config] {
	s := []setting[Config]{
		bind(stringKind(), "listen", "HTTP listen address (host:port) for webhooks, health checks, the API and metrics.",
			func(c *Config) *string { return &c.Listen }).withFlag(),
		bind(stringKind(), "metrics_listen", "Separate listen address (host:port) for /metrics, /healthz and /readyz; /metrics then leaves listen. Empty: off.",
			func(c *Config) *string { return &c.MetricsListen }),
		bind(stringKind(), "data_dir", "Directory holding the git mirrors.",
			func(c *Config) *string { return &c.DataDir }).withFlag(),
		bind(stringKind(), "log.level", "Log level: debug, info, warn or error.",
			func(c *Config) *string { return &c.Log.Level }).withFlag(),
		bind(stringKind(), "log.format", "Log format: json or console.",
			func(c *Config) *string { return &c.Log.Format }),
		bind(urlKind(), "redis.url", "One Redis server: redis://, rediss:// (TLS) or unix:// URL. Set url or addrs, not both; the default applies only when neither is set.",
			func(c *Config) *URL { return &c.Redis.URL }).withFlag(),
		bindList("redis.addrs", "Several Redis addresses (host:port): Cluster nodes, or Sentinels when master_name is set. Comma-separated in the environment.",
			func(c *Config) *[]string { return &c.Redis.Addrs }),
		bind(stringKind(), "redis.master_name", "Sentinel master name; set it to use Sentinel with addrs.",
			func(c *Config) *string { return &c.Redis.MasterName }),
		bind(stringKind(), "redis.username", "Redis ACL user name.",
			func(c *Config) *string { return &c.Redis.Username }),
		bind(secretKind(), "redis.password", "Redis password. Prefer password_file or the environment.",
			func(c *Config) *Secret { return &c.Redis.Password }),
		bind(stringKind(), "redis.password_file", "File holding the Redis password (surrounding white space is trimmed).",
			func(c *Config) *string { return &c.Redis.PasswordFile }),
		bind(stringKind(), "redis.prefix", "Prefix of every Redis key, so several installations can share a server.",
			func(c *Config) *string { return &c.Redis.Prefix }),
		bind(intKind(), "workers", "Event stream consumers in this process.",
			func(c *Config) *int { return &c.Workers }).withFlag(),
		bind(durationKind(), "sweep_interval", "How often every train is re-checked against the forge, so a lost webhook never stalls a train.",
			func(c *Config) *time.Duration { return &c.SweepInterval }).withFlag(),
		bind(durationKind(), "lease_ttl", "How long a train's lease outlives a worker that died holding it.",
			func(c *Config) *time.Duration { return &c.LeaseTTL }),
		bind(durationKind(), "claim_idle", "An event left unacknowledged this long is claimed by another worker.",
			func(c *Config) *time.Duration { return &c.ClaimIdle }),
		bind(intKind(), "max_deliveries", "An event that failed or panicked this many times goes to the dead letters (trainyard events dead).",
			func(c *Config) *int { return &c.MaxDeliveries }),
		bind(durationKind(), "action_timeout", "How long one git or forge operation may take before it is abandoned and retried.",
			func(c *Config) *time.Duration { return &c.ActionTimeout }),
		bind(sizeKind(), "webhook.max_body", "Largest webhook body accepted (bytes, or like 5MiB); larger ones get 413.",
			func(c *Config) *int64 { return &c.Webhook.MaxBody }),
		bind(durationKind(), "webhook.dedup_ttl", "How long a delivery id is remembered, so a redelivered webhook is ignored.",
			func(c *Config) *time.Duration { return &c.Webhook.DedupTTL }),
		bind(stringKind(), "bot.name", "Author and committer name of the commits Trainyard writes.",
			func(c *Config) *string { return &c.Bot.Name }),
		bind(stringKind(), "bot.email", "Author and committer email of the commits Trainyard writes.",
			func(c *Config) *string { return &c.Bot.Email }),
		bind(secretKind(), "api.token", "Bearer token the API asks for; without one every mutating call is refused. Prefer token_file or the environment.",
			func(c *Config) *Secret { return &c.API.Token }),
		bind(stringKind(), "api.token_file", "File holding the API token.",
			func(c *Config) *string { return &c.API.TokenFile }),
		bind(boolKind(), "api.protect_reads", "The read endpoints need the API token too, and so does /metrics when it is served on listen; ui.public must then be false.",
			func(c *Config) *bool { return &c.API.ProtectReads }),
		bind(boolKind(), "ui.enabled", "Serve the web dashboard at /.",
			func(c *Config) *bool { return &c.UI.Enabled }),
		bind(boolKind(), "ui.public", "Anyone who can reach listen may read the dashboard; false: its pages need the API token, and api.protect_reads must be true too. Its actions always need it.",
			func(c *Config) *bool { return &c.UI.Public }),
		bind(urlKind(), "ui.url", "Where people reach the dashboard (https://trainyard.example.com); each MR's status comment and commit status link its page there. Empty: no link.",
			func(c *Config) *URL { return &c.UI.URL }),
	}
	s = append(s, forgeSettings(ForgeGitLab, "GitLab", "the GitLab instance, like https://gitlab.example.com",
		func(c *Config) *Forge { return &c.GitLab.Forge })...)
	s = append(s, bind(intKind(), "gitlab.requests_per_minute", "Most GitLab API requests a minute, of every replica using the token together (shared through Redis), below the instance's rate limits; 0: no bound.",
		func(c *Config) *int { return &c.GitLab.RequestsPerMinute }))
	s = append(s, bind(stringKind(), "gitlab.pipelines", "How a car's pipeline starts: push (the car's push starts it, given the pipeline's variables as ci.variable push options; a project whose CI runs no pipeline for such a push falls back to api by itself) or api (created through the API after the push: one more request per car).",
		func(c *Config) *string { return &c.GitLab.Pipelines }))
	s = append(s, forgeSettings(ForgeGitHub, "GitHub", "the GitHub REST API; GitHub Enterprise Server uses https://HOST/api/v3",
		func(c *Config) *Forge { return &c.GitHub.Forge })...)
	s = append(s, githubSettings()...)
	return append(s,
		bind(intKind(), "train.max_parallel", "Most pipelines run at once per train.",
			func(c *Config) *int { return &c.Train.MaxParallel }),
		bind(intKind(), "train.batch_size", "Most merge requests one pipeline tests together when the queue is long; 1 turns batching off.",
			func(c *Config) *int { return &c.Train.BatchSize }),
		bind(intKind(), "train.max_batch_size", "0: batch_size is fixed. Above it: the batch limit grows from batch_size up to this while failures are rare and falls back when they are frequent (docs/simulation.md: more throughput at small windows and rare failures, the same elsewhere).",
			func(c *Config) *int { return &c.Train.MaxBatchSize }),
		bind(intKind(), "train.min_window", "Floor of the adaptive window, which halves with every failure; 0: half of max_parallel; max_parallel: a fixed window.",
			func(c *Config) *int { return &c.Train.MinWindow }),
		bind(intKind(), "train.bisect_parallel", "0: a failed batch's merge requests are tested apart within max_parallel. Above 0: in that many pipelines of their own, beside max_parallel, as Trunk's bisection concurrency, so the cars behind are tested meanwhile (docs/simulation.md: more throughput on long queues at windows up to 10, for up to max_parallel + bisect_parallel pipelines at once).",
			func(c *Config) *int { return &c.Train.BisectParallel }),
		bind(boolKind(), "train.eager_eviction", "Evict a car at its first failed pipeline, as GitLab does, instead of confirming the failure first.",
			func(c *Config) *bool { return &c.Train.EagerEviction }),
		bind(intKind(), "train.retries", "Times a failed pipeline on the line is run again before its merge requests are tested apart.",
			func(c *Config) *int { return &c.Train.Retries }),
		bind(durationKind(), "train.pipeline_timeout", "A car whose pipeline runs longer than this is evicted.",
			func(c *Config) *time.Duration { return &c.Train.PipelineTimeout }),
		bind(methodKind(), "train.method", "Merge method: merge, squash or rebase.",
			func(c *Config) *train.Method { return &c.Train.Method }),
		bind(stringKind(), "train.car_prefix", "Start of car branch names: trainyard/main/12 is MR 12 on the train for main.",
			func(c *Config) *string { return &c.Train.CarPrefix }),
		bind(accessKind(), "train.min_access", "Access level needed to use a train: guest, reporter, developer, maintainer or owner; GitHub's roles read, triage, write (= developer), maintain and admin too.",
			func(c *Config) *forge.AccessLevel { return &c.Train.MinAccess }),
		bind(stringKind(), "train.merge_rules", "forge: a merge request must meet the forge's merge rules (approvals, requested changes, resolved threads, not a draft) to join the train and again before it merges; none: they are not checked, which lets the train merge what the forge would refuse (unsafe).",
			func(c *Config) *string { return &c.Train.MergeRules }),
		bind(accessKind(), "train.pause_role", "Access level needed to pause or resume a train with /train pause and /train resume.",
			func(c *Config) *forge.AccessLevel { return &c.Train.PauseRole }),
		bind(accessKind(), "train.priority_role", "Access level needed to add a merge request with --priority urgent (ahead of every car not yet tested) or high (to the front, restarting the pipelines behind it).",
			func(c *Config) *forge.AccessLevel { return &c.Train.PriorityRole }),
	)
}

// forgeSettings declares the settings of one forge section.
func forgeSettings(name, title, urlDoc string, f func(*Config) *Forge) []setting[Config] {
	return []setting[Config]{
		bind(urlKind(), name+".url", "Base URL of "+urlDoc+".",
			func(c *Config) *URL { return &f(c).URL }),
		bind(secretKind(), name+".token", title+" API token of the bot user. Prefer token_file or the environment.",
			func(c *Config) *Secret { return &f(c).Token }),
		bind(stringKind(), name+".token_file", "File holding the "+title+" API token.",
			func(c *Config) *string { return &f(c).TokenFile }),
		bind(secretKind(), name+".webhook_secret", title+" webhook secret. Prefer webhook_secret_file or the environment.",
			func(c *Config) *Secret { return &f(c).WebhookSecret }),
		bind(stringKind(), name+".webhook_secret_file", "File holding the "+title+" webhook secret.",
			func(c *Config) *string { return &f(c).WebhookSecretFile }),
	}
}

// githubSettings declares the GitHub App and the repository defaults.
func githubSettings() []setting[Config] {
	return []setting[Config]{
		bind(int64Kind(), "github.app_id", "GitHub App id, to act as the app's installation instead of with a token; with installation_id and private_key.",
			func(c *Config) *int64 { return &c.GitHub.AppID }),
		bind(int64Kind(), "github.installation_id", "Id of the app's installation on the repositories' owner.",
			func(c *Config) *int64 { return &c.GitHub.InstallationID }),
		bind(secretKind(), "github.private_key", "The app's PEM-encoded private key. Prefer private_key_file or the environment.",
			func(c *Config) *Secret { return &c.GitHub.PrivateKey }),
		bind(stringKind(), "github.private_key_file", "File holding the app's private key (the .pem GitHub gave).",
			func(c *Config) *string { return &c.GitHub.PrivateKeyFile }),
		bindList("github.required_checks", "Check runs and commit statuses, by name, a car's commit must pass, beside those the target branch's protection and rulesets require. Neither names any: every check reported on it, at least one, once the car's workflow runs have completed (checks from outside Actions are not waited for: name them).",
			func(c *Config) *[]string { return &c.GitHub.RequiredChecks }),
		bindList("github.workflows", "Workflow files (ci.yml) started with workflow_dispatch on a car branch, for workflows that do not run on push.",
			func(c *Config) *[]string { return &c.GitHub.Workflows }),
		bind(stringKind(), "github.fast_forward", "How a target branch moves: push (a non-forced git push) or api (the refs API with force off).",
			func(c *Config) *string { return &c.GitHub.FastForward }),
		bind(boolKind(), "github.branch_checks", "A car also waits for the checks the target branch's protection and rulesets require (false: only required_checks, or every check reported). Turn it off where a required check never runs on a car branch (one that runs on pull requests only); those checks must then have passed on the pull request's own head (a merge rule).",
			func(c *Config) *bool { return &c.GitHub.BranchChecks }),
		bindList("github.check_apps", "GitHub Apps, by slug or numeric id, whose check runs count toward a car's checks; any other app's check runs are ignored, whatever their names. Empty: github-actions alone.",
			func(c *Config) *[]string { return &c.GitHub.CheckApps }),
		bindList("github.status_creators", "GitHub logins whose commit statuses count toward a car's checks (an external CI's bot user); anyone else's are ignored. Empty: no commit status counts.",
			func(c *Config) *[]string { return &c.GitHub.StatusCreators }),
	}
}

// projectSettings is the table of the keys of a projects entry. The
// overrides have no default: they inherit the train section.
func projectSettings() []setting[Project] {
	return []setting[Project]{
		bind(stringKind(), "forge", "gitlab or github.", func(p *Project) *string { return &p.Forge }),
		bind(stringKind(), "path", "Full project path: group/app, group/sub/app, or owner/repo on GitHub.",
			func(p *Project) *string { return &p.Path }),
		bindList("branches", "Target branches that run trains: names or patterns like release/*. Empty: any branch.",
			func(p *Project) *[]string { return &p.Branches }),
		bindOptional(intKind(), "max_parallel", "Overrides train.max_parallel.",
			func(p *Project) **int { return &p.MaxParallel }),
		bindOptional(intKind(), "batch_size", "Overrides train.batch_size.",
			func(p *Project) **int { return &p.BatchSize }),
		bindOptional(intKind(), "max_batch_size", "Overrides train.max_batch_size.",
			func(p *Project) **int { return &p.MaxBatchSize }),
		bindOptional(intKind(), "min_window", "Overrides train.min_window.",
			func(p *Project) **int { return &p.MinWindow }),
		bindOptional(intKind(), "bisect_parallel", "Overrides train.bisect_parallel.",
			func(p *Project) **int { return &p.BisectParallel }),
		bindOptional(boolKind(), "eager_eviction", "Overrides train.eager_eviction.",
			func(p *Project) **bool { return &p.EagerEviction }),
		bindOptional(intKind(), "retries", "Overrides train.retries.",
			func(p *Project) **int { return &p.Retries }),
		bindOptional(durationKind(), "pipeline_timeout", "Overrides train.pipeline_timeout.",
			func(p *Project) **time.Duration { return &p.PipelineTimeout }),
		bindOptional(methodKind(), "method", "Overrides train.method.",
			func(p *Project) **train.Method { return &p.Method }),
		bindOptional(accessKind(), "min_access", "Overrides train.min_access.",
			func(p *Project) **forge.AccessLevel { return &p.MinAccess }),
		bindOptional(stringKind(), "merge_rules", "Overrides train.merge_rules.",
			func(p *Project) **string { return &p.MergeRules }),
		bindOptional(accessKind(), "pause_role", "Overrides train.pause_role.",
			func(p *Project) **forge.AccessLevel { return &p.PauseRole }),
		bindOptional(accessKind(), "priority_role", "Overrides train.priority_role.",
			func(p *Project) **forge.AccessLevel { return &p.PriorityRole }),
		bindOptional(boolKind(), "repository_settings", "Read the repository's own settings from .trainyard.yml on the target branch (default true); false ignores the file.",
			func(p *Project) **bool { return &p.RepoFile }),
		bindItems("freezes", "Freeze periods, each START END ZONE [REASON], like 2026-12-24 2026-12-27T08:00 Europe/Berlin Holiday freeze: the target does not move from START until END; cars are still tested.",
			func(p *Project) *[]string { return &p.Freezes }),
		bindItems("merge_windows", "Weekly merge windows, each DAYS HH:MM-HH:MM ZONE, like Mon-Fri 09:00-17:00 Europe/Berlin: the target moves only inside one; cars are still tested outside. Empty: any time.",
			func(p *Project) *[]string { return &p.MergeWindows }),
		bindItems("lanes", "Lanes of the project's trains, each NAME PATTERN [PATTERN...], like api services/api/** libs/api/**: the lanes an MR touches, by the paths it changes, are shown on its car (an MR changing paths in no lane touches every lane).",
			func(p *Project) *[]string { return &p.Lanes }),
		bindOptional(boolKind(), "lane_trains", "Test each MR first in a train of its own for each lane it touches (see lanes), where only that lane's MRs are ahead of it; it joins the target's train once it passed in every one, and is tested there once more before the target moves. Default false: lanes are only shown.",
			func(p *Project) **bool { return &p.LaneTrains }),
		bind(secretKind(), "webhook_secret", "This project's webhook secret, when it has its own; overrides the forge's. Prefer webhook_secret_file.",
			func(p *Project) *Secret { return &p.WebhookSecret }),
		bind(stringKind(), "webhook_secret_file", "File holding this project's webhook secret.",
			func(p *Project) *string { return &p.WebhookSecretFile }),
		bindList("required_checks", "GitHub only: overrides github.required_checks.",
			func(p *Project) *[]string { return &p.RequiredChecks }),
		bindList("workflows", "GitHub only: overrides github.workflows.",
			func(p *Project) *[]string { return &p.Workflows }),
		bindOptional(stringKind(), "fast_forward", "GitHub only: overrides github.fast_forward.",
			func(p *Project) **string { return &p.FastForward }),
		bindOptional(boolKind(), "branch_checks", "GitHub only: overrides github.branch_checks.",
			func(p *Project) **bool { return &p.BranchChecks }),
		bindList("check_apps", "GitHub only: overrides github.check_apps.",
			func(p *Project) *[]string { return &p.CheckApps }),
		bindList("status_creators", "GitHub only: overrides github.status_creators.",
			func(p *Project) *[]string { return &p.StatusCreators }),
	}
}

// tokenSettings is the table of the keys of an api.tokens entry.
func tokenSettings() []setting[APIToken] {
	return []setting[APIToken]{
		bind(stringKind(), "name", "Unique name of the token, recorded in the history of what it changed: letters, digits, '.', '_' and '-'.",
			func(t *APIToken) *string { return &t.Name }),
		bind(stringKind(), "role", "read (the API's and dashboard's reads) or write (also pause, resume, add, remove, retry and the dead letters).",
			func(t *APIToken) *string { return &t.Role }),
		bind(secretKind(), "token", "The token. Prefer token_file.",
			func(t *APIToken) *Secret { return &t.Token }),
		bind(stringKind(), "token_file", "File holding the token.",
			func(t *APIToken) *string { return &t.TokenFile }),
	}
}

// notifySettings is the table of the keys of a notify entry.
func notifySettings() []setting[NotifyRoute] {
	return []setting[NotifyRoute]{
		bind(stringKind(), "name", "Unique name of the route in logs and metrics. Default: kind#index, like slack#0.",
			func(r *NotifyRoute) *string { return &r.Name }),
		bind(stringKind(), "forge", "Only events of this forge: gitlab or github. Empty: both.",
			func(r *NotifyRoute) *string { return &r.Forge }),
		bind(stringKind(), "project", "Only events of this project (full path). Empty: every project.",
			func(r *NotifyRoute) *string { return &r.Project }),
		bindList("branches", "Only events of trains for these target branches: names or patterns like release/*. Empty: any branch.",
			func(r *NotifyRoute) *[]string { return &r.Branches }),
		bind(stringKind(), "kind", "Chat the webhook belongs to: slack or mattermost.",
			func(r *NotifyRoute) *string { return &r.Kind }),
		bind(secretKind(), "url", "Incoming webhook URL. It is a credential: prefer url_file.",
			func(r *NotifyRoute) *Secret { return &r.URL }),
		bind(stringKind(), "url_file", "File holding the incoming webhook URL.",
			func(r *NotifyRoute) *string { return &r.URLFile }),
		bindList("events", "Events sent: merged, evicted, paused, resumed. Empty: all of them.",
			func(r *NotifyRoute) *[]string { return &r.Events }),
		bind(stringKind(), "username", "Name the messages are posted under, where the webhook allows it.",
			func(r *NotifyRoute) *string { return &r.Username }),
		bind(stringKind(), "icon_url", "Avatar image URL of the messages, where the webhook allows it.",
			func(r *NotifyRoute) *string { return &r.IconURL }),
		bind(durationKind(), "retry_for", "How long a message the webhook does not take is retried, across restarts, before it is given up. Default: 1h.",
			func(r *NotifyRoute) *time.Duration { return &r.RetryFor }),
	}
}

// secretRef ties a secret to the setting naming the file it may come from.
type secretRef struct {
	path  string // "gitlab.token"; its file setting is path + "_file"
	env   string // the variable that may also set it; "" in list entries
	value *Secret
	file  *string
}

// secrets lists every secret of the configuration that a table pairs with
// a file setting, in table order.
func (c *Config) secrets() []secretRef {
	refs := secretsOf(c, configSettings(), "")
	for i := range refs {
		refs[i].env = envName(refs[i].path)
	}
	for i := range c.Projects {
		refs = append(refs, secretsOf(&c.Projects[i], projectSettings(), fmt.Sprintf("projects[%d].", i))...)
	}
	for i := range c.Notify {
		refs = append(refs, secretsOf(&c.Notify[i], notifySettings(), fmt.Sprintf("notify[%d].", i))...)
	}
	for i := range c.API.Tokens {
		refs = append(refs, secretsOf(&c.API.Tokens[i], tokenSettings(), fmt.Sprintf("api.tokens[%d].", i))...)
	}
	return refs
}

// secretsOf finds the secrets of t: the settings of the secret kind that
// have a setting path + "_file" beside them. prefix goes before each path.
func secretsOf[T any](t *T, table []setting[T], prefix string) []secretRef {
	files := map[string]setting[T]{}
	for _, s := range table {
		files[s.path] = s
	}
	var refs []secretRef
	for _, s := range table {
		if f, ok := files[s.path+"_file"]; ok && s.kind == secretKind().name {
			refs = append(refs, secretRef{path: prefix + s.path, value: s.ptr(t).(*Secret), file: f.ptr(t).(*string)})
		}
	}
	return refs
}

func envName(path string) string {
	return setting[Config]{path: path}.env()
}

// UnknownEnv returns the TRAINYARD_* variables in environ (as os.Environ
// gives it) that no setting reads: most likely misspelt, worth a warning.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{ConfigEnv: true}
	for _, s := range configSettings() {
		known[s.env()] = true
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) && !known[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	return unknown
}

// describe names the ways the secret itself can be set.
func (s secretRef) describe() string {
	if s.env == "" {
		return s.path
	}
	return s.path + " (or " + s.env + ")"
}
