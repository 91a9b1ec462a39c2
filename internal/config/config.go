// Package config holds the configuration of trainyard serve: a YAML file,
// TRAINYARD_* environment variables over it, command-line flags over both,
// secrets from the environment or from files, and validation at boot that
// names every bad field and what is wrong with it.
//
// Every setting is declared once, in the settings tables (settings.go):
// the keys the file may hold and how the loader walks it (walk.go), the
// environment variables, the flags, the secret files and the
// documentation all come from those tables.
package config

import (
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/train"
)

// ConfigEnv names the variable that names the configuration file, where
// a flag is awkward to pass (a container's environment).
const ConfigEnv = "TRAINYARD_CONFIG"

// SearchPaths are the files read, the first that exists, when neither
// --config nor TRAINYARD_CONFIG names one: the working directory's, a
// working tree's, then the one a package installs.
func SearchPaths() []string {
	return []string{"trainyard.yaml", "configs/trainyard.yaml", "/etc/trainyard/trainyard.yaml"}
}

// DefaultRedisURL is used when neither redis.url nor redis.addrs is set.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// Forge names, as written in projects[].forge: each forge's package
// names itself.
const (
	ForgeGitLab = gitlab.Name
	ForgeGitHub = github.Name
)

// Config is the whole configuration of trainyard serve.
type Config struct {
	Listen        string
	MetricsListen string
	DataDir       string
	Log           Log
	Redis         Redis
	Workers       int
	SweepInterval time.Duration
	LeaseTTL      time.Duration
	ClaimIdle     time.Duration
	MaxDeliveries int
	ActionTimeout time.Duration
	Webhook       Webhook
	Bot           Bot
	GitLab        GitLab
	GitHub        GitHub
	API           API
	UI            UI
	Train         TrainDefaults
	Projects      []Project
	Notify        []NotifyRoute
}

// Log configures logging.
type Log struct {
	Level  string // debug, info, warn or error
	Format string // json or console
}

// Redis says how to reach Redis: URL for one server, or Addrs for a
// Cluster, or for Sentinels when MasterName is set.
type Redis struct {
	URL          URL
	Addrs        []string
	MasterName   string
	Username     string
	Password     Secret
	PasswordFile string
	Prefix       string
}

// Webhook configures the webhook listener.
type Webhook struct {
	MaxBody  int64 // bytes
	DedupTTL time.Duration
}

// Bot is the identity of the commits Trainyard writes.
type Bot struct {
	Name  string
	Email string
}

// Forge is how to reach one forge and verify its webhooks.
type Forge struct {
	URL               URL
	Token             Secret
	TokenFile         string
	WebhookSecret     Secret
	WebhookSecretFile string
}

// GitLab is how to reach GitLab: Forge, and how fast.
type GitLab struct {
	Forge
	// RequestsPerMinute bounds the API requests of every replica using
	// the token, together; 0: no bound.
	RequestsPerMinute int
	// Pipelines says how a car's pipeline starts: PipelinesPush or
	// PipelinesAPI.
	Pipelines string
}

// How a car's pipeline starts on GitLab, as written in gitlab.pipelines.
const (
	PipelinesPush = "push" // the car's push, with ci.variable push options
	PipelinesAPI  = "api"  // a pipeline created through the API after the push
)

// GitHub is how to reach GitHub: Forge's token, or a GitHub App
// installation (AppID, InstallationID and PrivateKey), and the defaults
// of what a car's pipeline is and how a target branch moves.
type GitHub struct {
	Forge
	AppID          int64
	InstallationID int64
	PrivateKey     Secret // the app's PEM-encoded RSA key
	PrivateKeyFile string
	RepoDefaults
}

// Fast-forward methods, as written in github.fast_forward.
const (
	FastForwardPush = "push" // a non-forced git push from the mirror
	FastForwardAPI  = "api"  // the refs API with force off
)

// RepoDefaults say what a car's pipeline is on GitHub and how the
// target moves; a project may override each.
type RepoDefaults struct {
	RequiredChecks []string
	Workflows      []string
	FastForward    string
	// CheckApps and StatusCreators say whose checks count: the apps'
	// check runs (GitHub Actions when empty) and the users' commit
	// statuses (none when empty).
	CheckApps      []string
	StatusCreators []string
	// BranchChecks: a car also waits for the checks the target branch's
	// protection and rulesets require.
	BranchChecks bool
}

// App reports whether GitHub is reached as an app installation.
func (g *GitHub) App() bool { return g.AppID != 0 || g.InstallationID != 0 || !g.PrivateKey.IsZero() }

// API guards the HTTP API. With no token every mutating call is refused.
type API struct {
	Token        Secret
	TokenFile    string
	ProtectReads bool // the read endpoints need the token too
	// Tokens are named tokens beside Token, each allowed to read or to
	// write; the name of the one a change came through is recorded.
	Tokens []APIToken
}

// APIToken is one named API token.
type APIToken struct {
	Name      string
	Role      string // RoleRead or RoleWrite
	Token     Secret
	TokenFile string
}

// Roles of API tokens, as written in api.tokens[].role.
const (
	RoleRead  = "read"
	RoleWrite = "write"
)

// UI configures the web dashboard served at /.
type UI struct {
	Enabled bool // serve the dashboard at all
	// Public lets anyone who reaches listen read the dashboard; false: its
	// pages need the API token too. Its actions always need the token.
	Public bool
	// URL is where people reach the dashboard; each MR's status comment
	// and commit status link its page there. Empty: no link.
	URL URL
}

// Chat kinds, as written in notify[].kind.
const (
	NotifySlack      = "slack"
	NotifyMattermost = "mattermost"
)

// Train events a notify route can take, as written in notify[].events.
const (
	EventMerged  = "merged"
	EventEvicted = "evicted"
	EventPaused  = "paused"
	EventResumed = "resumed"
)

// NotifyRoute sends some train events to one chat webhook. Empty Forge,
// Project, Branches or Events match anything. Treat it as read-only.
type NotifyRoute struct {
	Name     string // unique; "<kind>#<index>" when not set
	Forge    string
	Project  string
	Branches []string // names or path.Match patterns
	Kind     string   // slack or mattermost
	URL      Secret   // the incoming webhook URL, which is its own credential
	URLFile  string
	Events   []string
	Username string
	IconURL  string
	// RetryFor is how long a message is retried before it is given up;
	// zero means the notifier's default.
	RetryFor time.Duration
}

// Wants reports whether the route takes an event about a train.
func (r *NotifyRoute) Wants(forgeName, projectPath, branch, event string) bool {
	return (r.Forge == "" || r.Forge == forgeName) &&
		(r.Project == "" || forge.SameProject(r.Project, projectPath)) &&
		(len(r.Events) == 0 || slices.Contains(r.Events, event)) &&
		branchMatches(r.Branches, branch)
}

func defaultRouteName(kind string, i int) string {
	return fmt.Sprintf("%s#%d", kind, i)
}

// TrainDefaults apply to every train unless its project overrides them.
type TrainDefaults struct {
	MaxParallel int
	BatchSize   int
	// MaxBatchSize, above 0, lets the batch limit grow from BatchSize up
	// to it while failures are rare; 0: BatchSize is fixed.
	MaxBatchSize int
	MinWindow    int
	// BisectParallel, above 0, gives a failed batch's suspects that many
	// pipelines beside MaxParallel; 0: they share it.
	BisectParallel  int
	EagerEviction   bool
	Retries         int
	PipelineTimeout time.Duration
	Method          train.Method
	CarPrefix       string
	MinAccess       forge.AccessLevel
	// MergeRules is MergeRulesForge (the forge's approvals, discussions
	// and the like are enforced) or MergeRulesNone (they are not: unsafe).
	MergeRules string
	// PauseRole is the access level needed to pause or resume a train
	// with a comment.
	PauseRole forge.AccessLevel
	// PriorityRole is the access level needed to add a merge request
	// with --priority urgent or high.
	PriorityRole forge.AccessLevel
}

// Values of merge_rules.
const (
	MergeRulesForge = "forge"
	MergeRulesNone  = "none"
)

// Project is one project whose trains Trainyard runs. The pointer fields
// override the train defaults; nil inherits them. Treat it as read-only.
type Project struct {
	Forge    string
	Path     string
	Branches []string // names or path.Match patterns; empty: any branch

	MaxParallel     *int
	BatchSize       *int
	MaxBatchSize    *int
	MinWindow       *int
	BisectParallel  *int
	EagerEviction   *bool
	Retries         *int
	PipelineTimeout *time.Duration
	Method          *train.Method
	MinAccess       *forge.AccessLevel
	MergeRules      *string
	PauseRole       *forge.AccessLevel
	PriorityRole    *forge.AccessLevel

	// WebhookSecret, when set, verifies this project's deliveries instead
	// of its forge's webhook_secret.
	WebhookSecret     Secret
	WebhookSecretFile string

	// GitHub only; nil inherits the github section.
	RequiredChecks []string
	Workflows      []string
	FastForward    *string
	CheckApps      []string
	StatusCreators []string
	BranchChecks   *bool

	// Freezes and MergeWindows are the items as written (see
	// parseFreeze and parseWindow): when the target may not move.
	Freezes      []string
	MergeWindows []string
	// Lanes are the items as written (see parseLanes): the path globs
	// that split the project's trains.
	Lanes []string
	// LaneTrains: an MR is tested in the train of each lane it touches
	// before it joins the target's (nil: off).
	LaneTrains *bool
	// RepoFile: nil or true, the trains read the repository's own
	// settings file from the target branch.
	RepoFile *bool
	// schedule is Freezes and MergeWindows parsed, set when the
	// configuration is loaded or validated, so that Settings reads no
	// zone database per call.
	schedule *train.Schedule
}

// Defaults returns the configuration used where nothing else is set. It
// validates on its own: no projects, so no forge needs credentials.
func Defaults() Config {
	return Config{
		Listen:        "127.0.0.1:8080",
		DataDir:       "/var/lib/trainyard",
		Log:           Log{Level: "info", Format: "json"},
		Redis:         Redis{URL: DefaultRedisURL, Prefix: "trainyard"},
		Workers:       4,
		SweepInterval: 30 * time.Second,
		LeaseTTL:      30 * time.Second,
		ClaimIdle:     time.Minute,
		MaxDeliveries: 10,
		ActionTimeout: 2 * time.Minute,
		Webhook:       Webhook{MaxBody: 5 << 20, DedupTTL: 24 * time.Hour},
		Bot:           Bot{Name: "Trainyard", Email: "trainyard@localhost"},
		UI:            UI{Enabled: true, Public: true},
		GitLab:        GitLab{Pipelines: PipelinesPush},
		GitHub:        GitHub{Forge: Forge{URL: "https://api.github.com"}, RepoDefaults: RepoDefaults{FastForward: FastForwardPush, BranchChecks: true}},
		Train: TrainDefaults{
			MaxParallel:     train.DefaultMaxParallel,
			BatchSize:       train.DefaultBatchSize,
			PipelineTimeout: train.DefaultPipelineTimeout,
			Method:          train.MethodMerge,
			CarPrefix:       "trainyard",
			MinAccess:       forge.Developer,
			MergeRules:      MergeRulesForge,
			PauseRole:       forge.Maintainer,
			PriorityRole:    forge.Developer,
		},
	}
}

// Project finds a configured project. Paths compare case-insensitively,
// as both forges treat them.
func (c *Config) Project(forgeName, projectPath string) (Project, bool) {
	for _, p := range c.Projects {
		if p.Forge == forgeName && forge.SameProject(p.Path, projectPath) {
			return p, true
		}
	}
	return Project{}, false
}

// Enabled reports whether any project uses the forge. Only enabled forges
// need credentials, and only their webhook endpoints should be served.
func (c *Config) Enabled(forgeName string) bool {
	for _, p := range c.Projects {
		if p.Forge == forgeName {
			return true
		}
	}
	return false
}

// Settings returns the train settings for a project: the train defaults
// with the project's overrides on top.
func (c *Config) Settings(forgeName, projectPath string) train.Settings {
	s := train.Settings{
		MaxParallel:     c.Train.MaxParallel,
		BatchSize:       c.Train.BatchSize,
		MaxBatchSize:    c.Train.MaxBatchSize,
		MinWindow:       c.Train.MinWindow,
		BisectParallel:  c.Train.BisectParallel,
		EagerEviction:   c.Train.EagerEviction,
		Retries:         c.Train.Retries,
		PipelineTimeout: c.Train.PipelineTimeout,
		Method:          c.Train.Method,
	}
	p, ok := c.Project(forgeName, projectPath)
	if !ok {
		return s
	}
	override(&s.MaxParallel, p.MaxParallel)
	override(&s.BatchSize, p.BatchSize)
	override(&s.MaxBatchSize, p.MaxBatchSize)
	override(&s.MinWindow, p.MinWindow)
	override(&s.BisectParallel, p.BisectParallel)
	override(&s.EagerEviction, p.EagerEviction)
	override(&s.Retries, p.Retries)
	override(&s.PipelineTimeout, p.PipelineTimeout)
	override(&s.Method, p.Method)
	s.Schedule = p.Schedule()
	s.Lanes = p.LaneList()
	s.LaneTrains = p.LaneTrains != nil && *p.LaneTrains
	return s
}

// Repo returns what a car's pipeline is in a GitHub repository and how
// its target moves: the github section with the project's overrides.
func (c *Config) Repo(projectPath string) RepoDefaults {
	r := c.GitHub.RepoDefaults
	p, ok := c.Project(ForgeGitHub, projectPath)
	if !ok {
		return r
	}
	if p.RequiredChecks != nil {
		r.RequiredChecks = p.RequiredChecks
	}
	if p.Workflows != nil {
		r.Workflows = p.Workflows
	}
	if p.CheckApps != nil {
		r.CheckApps = p.CheckApps
	}
	if p.StatusCreators != nil {
		r.StatusCreators = p.StatusCreators
	}
	override(&r.FastForward, p.FastForward)
	override(&r.BranchChecks, p.BranchChecks)
	return r
}

// WebhookSecrets returns a forge's webhook secret and the secrets of the
// projects that have their own, by path.
func (c *Config) WebhookSecrets(forgeName string) (string, map[string]string) {
	def := c.GitLab.WebhookSecret
	if forgeName == ForgeGitHub {
		def = c.GitHub.WebhookSecret
	}
	own := map[string]string{}
	for _, p := range c.Projects {
		if p.Forge == forgeName && !p.WebhookSecret.IsZero() {
			own[p.Path] = p.WebhookSecret.Reveal()
		}
	}
	return def.Reveal(), own
}

// MinAccess returns the access level a user needs to use a project's
// trains.
func (c *Config) MinAccess(forgeName, projectPath string) forge.AccessLevel {
	level := c.Train.MinAccess
	if p, ok := c.Project(forgeName, projectPath); ok {
		override(&level, p.MinAccess)
	}
	return level
}

// EnforceMergeRules reports whether a project's trains honour the
// forge's merge rules; only merge_rules: none turns that off.
func (c *Config) EnforceMergeRules(forgeName, projectPath string) bool {
	rules := c.Train.MergeRules
	if p, ok := c.Project(forgeName, projectPath); ok {
		override(&rules, p.MergeRules)
	}
	return rules != MergeRulesNone
}

// PriorityRole returns the access level a user needs to put a merge
// request on a project's train with --priority urgent or high.
func (c *Config) PriorityRole(forgeName, projectPath string) forge.AccessLevel {
	level := c.Train.PriorityRole
	if p, ok := c.Project(forgeName, projectPath); ok {
		override(&level, p.PriorityRole)
	}
	return level
}

// PauseRole returns the access level a user needs to pause or resume a
// project's trains with a comment.
func (c *Config) PauseRole(forgeName, projectPath string) forge.AccessLevel {
	level := c.Train.PauseRole
	if p, ok := c.Project(forgeName, projectPath); ok {
		override(&level, p.PauseRole)
	}
	return level
}

// BranchAllowed reports whether trains run for the target branch of a
// project. Projects that are not configured run none.
func (c *Config) BranchAllowed(forgeName, projectPath, branch string) bool {
	p, ok := c.Project(forgeName, projectPath)
	return ok && branchMatches(p.Branches, branch)
}

// BranchListed reports whether a project's branches name the branch (by
// name or pattern): a train branch by configuration, never another MR's
// source branch that an MR is stacked on. False when branches is empty.
func (c *Config) BranchListed(forgeName, projectPath, branch string) bool {
	p, ok := c.Project(forgeName, projectPath)
	return ok && len(p.Branches) > 0 && branchMatches(p.Branches, branch)
}

// branchMatches reports whether branch matches one of patterns; no
// patterns match any branch.
func branchMatches(patterns []string, branch string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, pattern := range patterns {
		// Patterns were checked at load, so an error means no match.
		if ok, _ := path.Match(pattern, branch); ok {
			return true
		}
	}
	return false
}

func override[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
