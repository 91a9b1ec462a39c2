package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// Validate checks a configuration however it was built. It returns an
// *Error listing every problem, each naming its field as written in YAML.
func (c *Config) Validate() error {
	var ps problems
	ps.add(c.problems()...)
	return ps.err("")
}

func (c *Config) problems() []error {
	var ps problems
	ps.add(
		hostPort("listen", c.Listen),
		c.metricsListen(),
		required("data_dir", c.DataDir),
		oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error"),
		oneOf("log.format", c.Log.Format, "json", "console"),
	)
	ps.add(c.Redis.problems()...)
	ps.add(
		atLeast("workers", c.Workers, 1),
		positive("sweep_interval", c.SweepInterval),
		positive("lease_ttl", c.LeaseTTL),
		positive("claim_idle", c.ClaimIdle),
		atLeast("max_deliveries", c.MaxDeliveries, 1),
		positive("action_timeout", c.ActionTimeout),
		atLeast("webhook.max_body", c.Webhook.MaxBody, 1),
		positive("webhook.dedup_ttl", c.Webhook.DedupTTL),
		identity("bot.name", c.Bot.Name),
		identity("bot.email", c.Bot.Email),
	)
	ps.add(c.GitLab.problems(ForgeGitLab, c.Enabled(ForgeGitLab), c.ownSecrets(ForgeGitLab))...)
	ps.add(atLeast("gitlab.requests_per_minute", c.GitLab.RequestsPerMinute, 0))
	ps.add(oneOf("gitlab.pipelines", c.GitLab.Pipelines, PipelinesPush, PipelinesAPI))
	ps.add(c.GitHub.problems(c.Enabled(ForgeGitHub), c.ownSecrets(ForgeGitHub))...)
	ps.add(
		atLeast("train.max_parallel", c.Train.MaxParallel, 1),
		atLeast("train.batch_size", c.Train.BatchSize, 1),
		maxBatch("train.max_batch_size", c.Train.MaxBatchSize, c.Train.BatchSize),
		window("train.min_window", c.Train.MinWindow, c.Train.MaxParallel),
		atLeast("train.bisect_parallel", c.Train.BisectParallel, 0),
		atLeast("train.retries", c.Train.Retries, 0),
		positive("train.pipeline_timeout", c.Train.PipelineTimeout),
		method("train.method", c.Train.Method),
		refPart("train.car_prefix", c.Train.CarPrefix),
		access("train.min_access", c.Train.MinAccess),
		oneOf("train.merge_rules", c.Train.MergeRules, MergeRulesForge, MergeRulesNone),
		access("train.pause_role", c.Train.PauseRole),
		access("train.priority_role", c.Train.PriorityRole),
		strongSecret("api.token", c.API.Token),
	)
	if c.UI.URL != "" {
		ps.add(httpURL("ui.url", c.UI.URL))
	}
	// The dashboard and the API show the same trains: reads are private
	// on both or on neither.
	switch {
	case c.UI.Enabled && c.UI.Public && c.API.ProtectReads:
		ps.add(fieldErr("ui.public", "must be false when api.protect_reads is true: the dashboard would show anyone the trains the API hides"))
	case c.UI.Enabled && !c.UI.Public && !c.API.ProtectReads:
		ps.add(fieldErr("api.protect_reads", "must be true when ui.public is false: the API would show anyone the trains the dashboard hides"))
	}
	for i := range c.API.Tokens {
		ps.add(c.tokenProblems(i)...)
	}
	for i := range c.Projects {
		ps.add(c.Projects[i].problems(fmt.Sprintf("projects[%d]", i), c.Train.MaxParallel)...)
		ps.add(c.duplicate(i))
	}
	for i := range c.Notify {
		ps.add(c.Notify[i].problems(fmt.Sprintf("notify[%d]", i))...)
		ps.add(c.duplicateRoute(i))
	}
	return ps
}

func (r *Redis) problems() []error {
	var ps problems
	switch {
	case r.URL != "" && len(r.Addrs) > 0:
		ps.add(fieldErr("redis", "set url or addrs, not both"))
	case r.URL == "" && len(r.Addrs) == 0:
		ps.add(fieldErr("redis", "set url or addrs"))
	case r.URL != "":
		if _, err := r.Options(); err != nil {
			ps.add(fieldErr("redis.url", "%v", err))
		}
		if r.MasterName != "" {
			ps.add(fieldErr("redis.master_name", "needs addrs (the Sentinel addresses), not url"))
		}
	}
	for i, a := range r.Addrs {
		ps.add(hostPort(fmt.Sprintf("redis.addrs[%d]", i), a))
	}
	ps.add(required("redis.prefix", r.Prefix))
	return ps
}

// ownSecrets reports whether every project of a forge has a webhook
// secret of its own, so the forge's may be left out.
func (c *Config) ownSecrets(forgeName string) bool {
	for _, p := range c.Projects {
		if p.Forge == forgeName && p.WebhookSecret.IsZero() {
			return false
		}
	}
	return true
}

// problems checks a forge section. Credentials are required only of a
// forge that projects use; a missing one fails the boot rather than
// letting unverified webhooks in. ownSecrets: every project has its own
// webhook secret.
func (f *Forge) problems(name string, enabled, ownSecrets bool) []error {
	var ps problems
	ps.add(f.urlProblems(name, enabled)...)
	if !enabled {
		return ps
	}
	ps.add(f.needSecret(name+".token", f.Token))
	if !ownSecrets {
		ps.add(f.needSecret(name+".webhook_secret", f.WebhookSecret))
	}
	ps.add(strongSecret(name+".webhook_secret", f.WebhookSecret))
	return ps
}

// MinSecretLen is the shortest webhook secret or API token accepted: one
// guessable in an afternoon would let anyone queue forge events or steer
// trains.
const MinSecretLen = 16

// strongSecret refuses a secret that is set but short, or only white
// space; an unset one is for the callers that require it to report.
func strongSecret(field string, v Secret) error {
	s := v.Reveal()
	switch {
	case s == "":
		return nil
	case strings.TrimSpace(s) == "":
		return fieldErr(field, "is only white space; use a random value such as the output of `openssl rand -hex 32`")
	case len([]rune(s)) < MinSecretLen:
		n := len([]rune(s))
		unit := "characters"
		if n == 1 {
			unit = "character"
		}
		return fieldErr(field, "is %d %s long, want at least %d; use a random value such as the output of `openssl rand -hex 32`", n, unit, MinSecretLen)
	}
	return nil
}

func (f *Forge) urlProblems(name string, enabled bool) []error {
	var ps problems
	if f.URL != "" {
		ps.add(httpURL(name+".url", f.URL))
	}
	if enabled && f.URL == "" {
		ps.add(fieldErr(name+".url", "%s (set it or %s)", requiredWhen(name), envName(name+".url")))
	}
	return ps
}

func requiredWhen(forgeName string) string {
	return "required when " + forgeName + " projects are configured"
}

func (f *Forge) needSecret(path string, v Secret) error {
	if !v.IsZero() {
		return nil
	}
	forgeName, _, _ := strings.Cut(path, ".")
	return fieldErr(path, "%s (set it, %s_file, or %s)", requiredWhen(forgeName), path, envName(path))
}

// problems checks the github section: a token or an app, never both, and
// a key that is an RSA key in PEM.
func (g *GitHub) problems(enabled, ownSecrets bool) []error {
	var ps problems
	ps.add(g.urlProblems(ForgeGitHub, enabled)...)
	ps.add(g.RepoDefaults.problems("github")...)
	if g.App() {
		ps.add(g.appProblems()...)
	}
	if !enabled {
		return ps
	}
	switch {
	case g.App() && !g.Token.IsZero():
		ps.add(fieldErr("github.token", "set a token or a GitHub App (github.app_id, installation_id and private_key), not both"))
	case !g.App() && g.Token.IsZero():
		ps.add(fieldErr("github.token", "%s (set it, github.token_file, or TRAINYARD_GITHUB_TOKEN), or a GitHub App: github.app_id, installation_id and private_key",
			requiredWhen(ForgeGitHub)))
	}
	if !ownSecrets {
		ps.add(g.needSecret("github.webhook_secret", g.WebhookSecret))
	}
	ps.add(strongSecret("github.webhook_secret", g.WebhookSecret))
	return ps
}

func (g *GitHub) appProblems() []error {
	var ps problems
	for _, id := range []struct {
		path string
		v    int64
	}{{"github.app_id", g.AppID}, {"github.installation_id", g.InstallationID}} {
		if id.v <= 0 {
			ps.add(fieldErr(id.path, "required with a GitHub App, a positive number, got %d", id.v))
		}
	}
	switch _, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(g.PrivateKey.Reveal())); {
	case g.PrivateKey.IsZero():
		ps.add(fieldErr("github.private_key", "required with a GitHub App (set it, github.private_key_file, or TRAINYARD_GITHUB_PRIVATE_KEY)"))
	case err != nil:
		// The error is the parser's own and quotes nothing of the key.
		ps.add(fieldErr("github.private_key", "not a PEM-encoded RSA private key: %v", err))
	}
	return ps
}

// problems checks a repository's checks, workflows and fast-forward
// method; at names the section.
func (r *RepoDefaults) problems(at string) []error {
	var ps problems
	for i, name := range r.RequiredChecks {
		if strings.TrimSpace(name) == "" {
			ps.add(fieldErr(fmt.Sprintf("%s.required_checks[%d]", at, i), "empty check name"))
		}
	}
	for i, file := range r.Workflows {
		if ext := path.Ext(file); strings.Contains(file, "/") || (ext != ".yml" && ext != ".yaml") {
			ps.add(fieldErr(fmt.Sprintf("%s.workflows[%d]", at, i), "must be a workflow file name like ci.yml, got %q", file))
		}
	}
	for i, app := range r.CheckApps {
		if !validApp(app) {
			ps.add(fieldErr(fmt.Sprintf("%s.check_apps[%d]", at, i), "want a GitHub App's slug (like github-actions) or numeric id, got %q", app))
		}
	}
	for i, login := range r.StatusCreators {
		if !validLogin(login) {
			ps.add(fieldErr(fmt.Sprintf("%s.status_creators[%d]", at, i), "want a GitHub login (like jenkins-bot or ci[bot]), got %q", login))
		}
	}
	if r.FastForward != "" || at == "github" {
		ps.add(oneOf(at+".fast_forward", r.FastForward, FastForwardPush, FastForwardAPI))
	}
	return ps
}

// problems lists what is wrong with a project entry; maxParallel is the
// train default its overrides are checked against. It keeps the parsed
// freezes and merge windows on p.
func (p *Project) problems(at string, maxParallel int) []error {
	var ps problems
	switch p.Forge {
	case ForgeGitLab, ForgeGitHub:
		ps.add(projectPath(at+".path", p.Forge, p.Path))
	default:
		ps.add(fieldErr(at+".forge", "must be gitlab or github, got %q", p.Forge))
	}
	for i, b := range p.Branches {
		ps.add(branchPattern(fmt.Sprintf("%s.branches[%d]", at, i), b))
	}
	if p.MaxParallel != nil {
		ps.add(atLeast(at+".max_parallel", *p.MaxParallel, 1))
	}
	if p.BatchSize != nil {
		ps.add(atLeast(at+".batch_size", *p.BatchSize, 1))
	}
	if p.MaxBatchSize != nil {
		ps.add(maxBatch(at+".max_batch_size", *p.MaxBatchSize, 1))
	}
	if p.BisectParallel != nil {
		ps.add(atLeast(at+".bisect_parallel", *p.BisectParallel, 0))
	}
	if p.MinWindow != nil {
		if p.MaxParallel != nil {
			maxParallel = *p.MaxParallel
		}
		ps.add(window(at+".min_window", *p.MinWindow, maxParallel))
	}
	if p.Retries != nil {
		ps.add(atLeast(at+".retries", *p.Retries, 0))
	}
	if p.PipelineTimeout != nil {
		ps.add(positive(at+".pipeline_timeout", *p.PipelineTimeout))
	}
	if p.Method != nil {
		ps.add(method(at+".method", *p.Method))
	}
	if p.MinAccess != nil {
		ps.add(access(at+".min_access", *p.MinAccess))
	}
	if p.MergeRules != nil {
		ps.add(oneOf(at+".merge_rules", *p.MergeRules, MergeRulesForge, MergeRulesNone))
	}
	if p.PauseRole != nil {
		ps.add(access(at+".pause_role", *p.PauseRole))
	}
	if p.PriorityRole != nil {
		ps.add(access(at+".priority_role", *p.PriorityRole))
	}
	ps.add(strongSecret(at+".webhook_secret", p.WebhookSecret))
	ps.add(p.githubProblems(at)...)
	_, laneErrs := parseLanes(at+".lanes", p.Lanes)
	ps.add(laneErrs...)
	// The schedule is parsed here, once, and kept for Settings.
	schedule, errs := parseSchedule(at, p.Freezes, p.MergeWindows)
	p.schedule = &schedule
	ps.add(errs...)
	return ps
}

// githubProblems checks the keys only GitHub projects have.
func (p *Project) githubProblems(at string) []error {
	if p.Forge != ForgeGitHub {
		var ps problems
		for _, k := range []struct {
			key string
			set bool
		}{{"fast_forward", p.FastForward != nil}, {"required_checks", p.RequiredChecks != nil}, {"workflows", p.Workflows != nil},
			{"check_apps", p.CheckApps != nil}, {"status_creators", p.StatusCreators != nil}, {"branch_checks", p.BranchChecks != nil}} {
			if k.set {
				ps.add(fieldErr(at+"."+k.key, "only GitHub projects have it"))
			}
		}
		return ps
	}
	r := RepoDefaults{RequiredChecks: p.RequiredChecks, Workflows: p.Workflows, CheckApps: p.CheckApps, StatusCreators: p.StatusCreators}
	if p.FastForward != nil {
		r.FastForward = *p.FastForward
	}
	return r.problems(at)
}

// duplicate reports projects[i] if an earlier entry names the same
// project: which entry's settings apply would be a guess.
func (c *Config) duplicate(i int) error {
	p := c.Projects[i]
	for j := range i {
		if q := c.Projects[j]; q.Forge == p.Forge && p.Path != "" && forge.SameProject(q.Path, p.Path) {
			return fieldErr(fmt.Sprintf("projects[%d]", i), "duplicates projects[%d] (%s %s)", j, q.Forge, q.Path)
		}
	}
	return nil
}

func (r *NotifyRoute) problems(at string) []error {
	var ps problems
	if r.Forge != "" {
		ps.add(oneOf(at+".forge", r.Forge, ForgeGitLab, ForgeGitHub))
	}
	for i, b := range r.Branches {
		ps.add(branchPattern(fmt.Sprintf("%s.branches[%d]", at, i), b))
	}
	ps.add(oneOf(at+".kind", r.Kind, NotifySlack, NotifyMattermost))
	if r.URL.IsZero() {
		ps.add(fieldErr(at+".url", "required (set it or %s.url_file)", at))
	}
	for i, e := range r.Events {
		ps.add(oneOf(fmt.Sprintf("%s.events[%d]", at, i), e, EventMerged, EventEvicted, EventPaused, EventResumed))
	}
	if r.RetryFor < 0 { // zero: the default
		ps.add(positive(at+".retry_for", r.RetryFor))
	}
	return ps
}

// tokenProblems checks api.tokens[i]: a name that can be recorded and is
// its own, a role, and a strong secret no other token has.
func (c *Config) tokenProblems(i int) []error {
	t := c.API.Tokens[i]
	at := fmt.Sprintf("api.tokens[%d]", i)
	var ps problems
	switch {
	case t.Name == "":
		ps.add(fieldErr(at+".name", "required: the name the history records"))
	case len(t.Name) > 64 || strings.ContainsFunc(t.Name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}):
		ps.add(fieldErr(at+".name", "want up to 64 letters, digits, '.', '_' and '-', got %q", t.Name))
	case t.Name == "api" && !c.API.Token.IsZero():
		ps.add(fieldErr(at+".name", `"api" names api.token; choose another name`))
	}
	for j := range i {
		if c.API.Tokens[j].Name == t.Name && t.Name != "" {
			ps.add(fieldErr(at+".name", "duplicates api.tokens[%d] (%q)", j, t.Name))
		}
	}
	ps.add(oneOf(at+".role", t.Role, RoleRead, RoleWrite))
	if t.Token.IsZero() {
		ps.add(fieldErr(at+".token", "required (set it or %s.token_file)", at))
	} else {
		ps.add(strongSecret(at+".token", t.Token))
		same := t.Token.Reveal() == c.API.Token.Reveal()
		for j := range i {
			same = same || t.Token.Reveal() == c.API.Tokens[j].Token.Reveal()
		}
		if same {
			ps.add(fieldErr(at+".token", "is the same as another API token; each token must be its own, or the history cannot tell them apart"))
		}
	}
	return ps
}

// duplicateRoute reports notify[i] if an earlier route has its name, so
// that logs and metrics name one route each.
func (c *Config) duplicateRoute(i int) error {
	name := routeName(c.Notify, i)
	for j := range i {
		if routeName(c.Notify, j) == name {
			return fieldErr(fmt.Sprintf("notify[%d].name", i), "duplicates notify[%d] (%q)", j, name)
		}
	}
	return nil
}

// routeName is a route's name, defaulted as at load for a configuration
// built in code.
func routeName(routes []NotifyRoute, i int) string {
	if routes[i].Name != "" {
		return routes[i].Name
	}
	return defaultRouteName(routes[i].Kind, i)
}

func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return fieldErr(field, "required")
	}
	return nil
}

func oneOf(field, v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	last := len(allowed) - 1
	return fieldErr(field, "must be %s or %s, got %q", strings.Join(allowed[:last], ", "), allowed[last], v)
}

// maxBatch checks max_batch_size: 0 (off), or at least the batch size it
// grows from.
func maxBatch(field string, v, batchSize int) error {
	if v != 0 && v < batchSize {
		return fieldErr(field, "must be 0 (a fixed batch_size) or at least batch_size (%d), got %d", batchSize, v)
	}
	return atLeast(field, v, 0)
}

func atLeast[N int | int64](field string, v, least N) error {
	if v < least {
		return fieldErr(field, "must be at least %d, got %d", least, v)
	}
	return nil
}

// window checks an adaptive window's floor: zero (the default) or up to
// the most pipelines allowed.
func window(field string, v, maxParallel int) error {
	if v < 0 || v > maxParallel {
		return fieldErr(field, "must be between 0 and max_parallel (%d), got %d", maxParallel, v)
	}
	return nil
}

func positive(field string, d time.Duration) error {
	if d <= 0 {
		return fieldErr(field, "must be positive, got %s", formatDuration(d))
	}
	return nil
}

func method(field string, m train.Method) error {
	if !m.Valid() {
		return fieldErr(field, "must be merge, squash or rebase, got %q", string(m))
	}
	return nil
}

func access(field string, l forge.AccessLevel) error {
	switch l {
	case forge.Guest, forge.Reporter, forge.Developer, forge.Maintainer, forge.Owner:
		return nil
	}
	return fieldErr(field, "must be guest, reporter, developer, maintainer or owner, got %s", l)
}

// metricsListen checks the metrics listener's address, when there is one:
// it cannot share listen's, or one of the two would fail to bind (port 0
// picks a free port for each).
func (c *Config) metricsListen() error {
	if c.MetricsListen == "" {
		return nil
	}
	if err := hostPort("metrics_listen", c.MetricsListen); err != nil {
		return err
	}
	if _, port, _ := net.SplitHostPort(c.MetricsListen); c.MetricsListen == c.Listen && port != "0" {
		return fieldErr("metrics_listen", "must differ from listen, both are %q", c.Listen)
	}
	return nil
}

// hostPort checks a TCP address with a numeric port, as net.Listen and
// Redis take it.
func hostPort(field, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("bad port %q", port)
		}
	}
	if err != nil {
		return fieldErr(field, "must be host:port, got %q", addr)
	}
	return nil
}

func httpURL(field string, u URL) error {
	p, err := url.Parse(string(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fieldErr(field, "must be an http or https URL, got %q", u.String())
	}
	return nil
}

// identity checks a git author name or email: git refuses angle brackets
// and line breaks in them.
func identity(field, v string) error {
	if err := required(field, v); err != nil {
		return err
	}
	if strings.ContainsAny(v, "<>\n\r") {
		return fieldErr(field, "must not contain <, > or a line break, got %q", v)
	}
	return nil
}

// projectPath checks "group/app": nested groups on GitLab, exactly
// owner/repo on GitHub.
func projectPath(field, forgeName, p string) error {
	parts := strings.Split(p, "/")
	ok := len(parts) >= 2 && !slices.Contains(parts, "") && !strings.ContainsAny(p, " \t\n")
	if forgeName == ForgeGitHub && len(parts) != 2 {
		ok = false
	}
	if !ok {
		want := "group/project"
		if forgeName == ForgeGitHub {
			want = "owner/repo"
		}
		return fieldErr(field, "must be the full path like %s, got %q", want, p)
	}
	return nil
}

// branchPattern checks a branch name or path.Match pattern with the parts
// of git's ref name rules that a typo breaks.
func branchPattern(field, b string) error {
	if b == "" {
		return fieldErr(field, "empty branch name")
	}
	if _, err := path.Match(b, ""); err != nil {
		return fieldErr(field, "bad pattern %q: %v", b, err)
	}
	return refPart(field, b)
}

// refPart checks text that goes into a ref name.
func refPart(field, s string) error {
	if s == "" {
		return fieldErr(field, "required")
	}
	bad := strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") ||
		strings.HasPrefix(s, "-") || strings.HasSuffix(s, ".lock") ||
		strings.Contains(s, "..") || strings.Contains(s, "//") || strings.Contains(s, "@{") ||
		strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune(`~^:\`, r) })
	if bad {
		return fieldErr(field, "%q is not a valid git ref name", s)
	}
	return nil
}

// validApp reports whether s names a GitHub App: a slug of letters,
// digits and hyphens, or a numeric id.
func validApp(s string) bool { return hyphenated(s, 64) }

// validLogin reports whether s can be a GitHub login: letters, digits
// and single hyphens, at most 39, or a bot's, ending in [bot].
func validLogin(s string) bool {
	s = strings.TrimSuffix(s, "[bot]")
	return hyphenated(s, 39) && !strings.Contains(s, "--")
}

// hyphenated reports whether s is 1 to n ASCII letters, digits and
// hyphens, neither starting nor ending with a hyphen.
func hyphenated(s string, n int) bool {
	if s == "" || len(s) > n || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
