package gitops

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// remoteName is the single remote of every mirror.
const remoteName = "origin"

// Identity is the name and email written as committer of every commit the
// mirror creates (and as author where the method has no better author).
type Identity struct {
	Name  string
	Email string
}

// Options configures Open.
type Options struct {
	Dir       string // data directory holding all mirrors
	Project   string // "group/project" → <Dir>/group/project.git
	RemoteURL string // clone URL of the project, without credentials
	Token     string // bot token sent as HTTP Basic auth; empty for none
	// TokenSource, instead of Token, gives the token for each fetch and
	// push: a GitHub App's installation token expires within the hour.
	TokenSource func(context.Context) (string, error)
	// TokenUser is the Basic auth user name that goes with Token: "oauth2"
	// (the default) for GitLab, "x-access-token" for GitHub App tokens.
	TokenUser string
	Identity  Identity
	Git       string      // git binary; "git" from PATH when empty
	Logger    *zap.Logger // optional
}

// Repo is a bare mirror of one project. Builds may run concurrently; fetches
// are serialised because they update the same local refs.
type Repo struct {
	run      *runner
	dir      string
	identity Identity
	auth     *credentials
	log      *zap.Logger
	fetchMu  sync.Mutex
	known    knownCommits
	// fetches counts fetches since the last maintenance, at maintainedAt
	// (both guarded by fetchMu).
	fetches      int
	maintainedAt time.Time
}

// The first git release with merge-tree --write-tree.
const (
	minGitMajor = 2
	minGitMinor = 38
)

// Open returns the mirror of opts.Project, creating the bare repository and
// pointing its remote at opts.RemoteURL as needed.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	dir, err := opts.validate()
	if err != nil {
		return nil, fmt.Errorf("open mirror %s: %w", opts.Project, err)
	}
	git, err := exec.LookPath(defaultString(opts.Git, "git"))
	if err != nil {
		return nil, fmt.Errorf("open mirror %s: find git binary: %w", opts.Project, err)
	}
	run := newRunner(git, dir)
	repo := &Repo{
		run:      run,
		dir:      dir,
		identity: opts.Identity,
		auth:     newCredentials(run, opts.Token, opts.TokenSource, defaultString(opts.TokenUser, "oauth2")),
		log:      opts.Logger,
	}
	if repo.log == nil {
		repo.log = zap.NewNop()
	}
	repo.log = repo.log.With(zap.String("project", opts.Project))
	if err := repo.init(ctx, opts.RemoteURL); err != nil {
		return nil, fmt.Errorf("open mirror %s: %w", opts.Project, err)
	}
	return repo, nil
}

// Dir returns the path of the bare repository.
func (r *Repo) Dir() string { return r.dir }

func (o Options) validate() (string, error) {
	switch {
	case o.Dir == "":
		return "", fmt.Errorf("%w: data dir is empty", ErrInvalidArgument)
	case o.RemoteURL == "":
		return "", fmt.Errorf("%w: remote URL is empty", ErrInvalidArgument)
	case o.Token != "" && o.TokenSource != nil:
		return "", fmt.Errorf("%w: set a token or a token source, not both", ErrInvalidArgument)
	case o.Identity.Name == "" || o.Identity.Email == "":
		return "", fmt.Errorf("%w: committer identity is incomplete", ErrInvalidArgument)
	case strings.ContainsAny(o.Identity.Name+o.Identity.Email, "<>\n\x00"):
		return "", fmt.Errorf("%w: committer identity %q <%s> has characters a commit cannot hold", ErrInvalidArgument, o.Identity.Name, o.Identity.Email)
	}
	if u, err := url.Parse(o.RemoteURL); err == nil && u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return "", fmt.Errorf("%w: remote URL carries a password; pass it as Token", ErrInvalidArgument)
		}
	}
	segments := strings.Split(o.Project, "/")
	for _, s := range segments {
		if s == "" || s == "." || s == ".." || strings.HasPrefix(s, "-") || strings.ContainsAny(s, "\\\x00") {
			return "", fmt.Errorf("%w: invalid project path %q", ErrInvalidArgument, o.Project)
		}
	}
	segments[len(segments)-1] += ".git"
	return filepath.Join(append([]string{o.Dir}, segments...)...), nil
}

func (r *Repo) init(ctx context.Context, remoteURL string) error {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", r.dir, err)
	}
	if err := r.checkVersion(ctx); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(r.dir, "HEAD")); os.IsNotExist(err) {
		if _, err := r.run.run(ctx, call{
			args:   []string{"init", "--bare", "--quiet"},
			config: []configPair{{key: "init.defaultBranch", value: "main"}},
		}); err != nil {
			return fmt.Errorf("init bare repository: %w", err)
		}
	}
	settings := []configPair{
		{key: "remote." + remoteName + ".url", value: remoteURL},
		// A detached background gc would outlive the command that started it.
		{key: "gc.autoDetach", value: "false"},
		// A transfer that stalls (a forge that never answers) is abandoned
		// after 30 s below 1 KiB/s instead of holding the train forever.
		{key: "http.lowSpeedLimit", value: "1024"},
		{key: "http.lowSpeedTime", value: "30"},
	}
	for _, s := range settings {
		if _, err := r.run.output(ctx, "config", s.key, s.value); err != nil {
			return fmt.Errorf("set %s: %w", s.key, err)
		}
	}
	return nil
}

func (r *Repo) checkVersion(ctx context.Context) error {
	out, err := r.run.output(ctx, "version")
	if err != nil {
		return fmt.Errorf("check git version: %w", err)
	}
	major, minor, ok := parseGitVersion(out)
	if !ok {
		return fmt.Errorf("git version: cannot parse %q", out)
	}
	if major < minGitMajor || (major == minGitMajor && minor < minGitMinor) {
		return fmt.Errorf("git version: %s is older than %d.%d, which merge-tree --write-tree needs", out, minGitMajor, minGitMinor)
	}
	return nil
}

// parseGitVersion reads "git version 2.39.5" (or "2.39.5.windows.1").
func parseGitVersion(s string) (major, minor int, ok bool) {
	fields := strings.Fields(s)
	if len(fields) < 3 {
		return 0, 0, false
	}
	parts := strings.SplitN(fields[2], ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
