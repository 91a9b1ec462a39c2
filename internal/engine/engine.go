// Package engine runs trains: it holds a train's lease, feeds observations
// to the planner, saves the train with compare-and-set, and carries out the
// planned actions through git and the forge, feeding their results back
// until nothing is left to do.
//
// Actions are written to the train's outbox in the same save that plans
// them and cleared only in a later save, after they were carried out. Each
// action is idempotent (a build gives the same commit, a pipeline start
// reuses one running for that commit, a fast-forward already done reports
// done, a note is found by its marker before it is posted again), so a
// crash at any point repeats work and never doubles its effect.
package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// Forge is what the engine needs from a forge.
type Forge interface {
	MergeRequest(ctx context.Context, project string, iid int64) (forge.MR, error)
	AccessLevel(ctx context.Context, project string, userID int64) (forge.AccessLevel, error)
	CreatePipeline(ctx context.Context, project, ref string, vars map[string]string) (forge.Pipeline, error)
	PipelinesFor(ctx context.Context, project, ref, sha string) ([]forge.Pipeline, error)
	Pipeline(ctx context.Context, project string, id int64) (forge.Pipeline, error)
	CancelPipeline(ctx context.Context, project string, id int64) error
	Comment(ctx context.Context, project string, iid int64, body string) error
	Notes(ctx context.Context, project string, iid int64) ([]forge.Note, error)
	BranchHead(ctx context.Context, project, branch string) (string, error)
}

// Repo is a project's git mirror, where car commits are made and pushed.
type Repo interface {
	FetchBranch(ctx context.Context, branch string) (string, error)
	FetchMR(ctx context.Context, ref string) (string, error)
	HasCommit(ctx context.Context, sha string) bool
	Build(ctx context.Context, req gitops.BuildRequest) (gitops.BuildResult, error)
	PushCar(ctx context.Context, ref, commit string) error
	DeleteRemoteBranch(ctx context.Context, branch string) error
	FastForward(ctx context.Context, branch, expectedOld, to string) (gitops.FFResult, error)
}

// Repos opens the mirror of a project.
type Repos interface {
	Repo(ctx context.Context, project string) (Repo, error)
}

// Notifier tells chat about merges and evictions. It must not block the
// train: implementations queue and return.
type Notifier interface {
	Notify(ctx context.Context, key train.Key, n train.Notify)
}

// Config tunes an engine.
type Config struct {
	// Owner names this worker in leases; unique per process.
	Owner string
	// Settings are given to trains created by the engine.
	Settings train.Settings
	// CarPrefix starts car branch names: <prefix>/<target>/<iid>.
	CarPrefix string
	// MRRef is the ref holding an MR's head on the forge.
	MRRef func(iid int64) string
	// MRRefLabel renders an MR reference for commit messages ("!12").
	MRRefLabel func(iid int64) string
	// MinAccess is the access level a user needs to use the train.
	MinAccess forge.AccessLevel
	// LeaseTTL bounds how long a dead worker keeps a train.
	LeaseTTL time.Duration
	// LeaseWait bounds how long Handle waits for another worker's lease.
	LeaseWait time.Duration
	// MaxRounds bounds the act-and-observe rounds of one Handle call.
	MaxRounds int

	// Per-project policy; nil means the defaults above for every project.
	//
	// SettingsFor gives a train's settings; they are applied on every
	// load, so a config change reaches running trains.
	SettingsFor func(key train.Key) train.Settings
	// MinAccessFor gives the access level a project's train needs.
	MinAccessFor func(forgeName, project string) forge.AccessLevel
	// BranchAllowed tells whether a branch of a project may have a train.
	BranchAllowed func(forgeName, project, branch string) bool
}

func (c Config) withDefaults() Config {
	if c.Owner == "" {
		c.Owner = "trainyard"
	}
	if c.CarPrefix == "" {
		c.CarPrefix = "trainyard"
	}
	if c.MRRef == nil {
		c.MRRef = func(iid int64) string { return fmt.Sprintf("refs/merge-requests/%d/head", iid) }
	}
	if c.MRRefLabel == nil {
		c.MRRefLabel = func(iid int64) string { return fmt.Sprintf("!%d", iid) }
	}
	if c.MinAccess == 0 {
		c.MinAccess = forge.Developer
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.LeaseWait <= 0 {
		c.LeaseWait = 10 * time.Second
	}
	if c.MaxRounds <= 0 {
		c.MaxRounds = 1000
	}
	c.Settings = c.Settings.WithDefaults()
	if c.SettingsFor == nil {
		settings := c.Settings
		c.SettingsFor = func(train.Key) train.Settings { return settings }
	}
	if c.MinAccessFor == nil {
		level := c.MinAccess
		c.MinAccessFor = func(string, string) forge.AccessLevel { return level }
	}
	if c.BranchAllowed == nil {
		c.BranchAllowed = func(string, string, string) bool { return true }
	}
	return c
}

// Engine runs trains. It is safe for concurrent use; the train lease keeps
// two callers, in this process or another, off one train at a time.
type Engine struct {
	cfg    Config
	store  *store.Store
	forge  Forge
	repos  Repos
	notify Notifier
	log    *zap.Logger
	now    func() time.Time
	trace  Trace
}

// Option adjusts an Engine at construction.
type Option func(*Engine)

// WithClock replaces the wall clock, for tests.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithNotifier sends notifications to n.
func WithNotifier(n Notifier) Option { return func(e *Engine) { e.notify = n } }

// Trace is told of every observation the engine applies and every action
// it carries out, for displays such as the demo's.
type Trace struct {
	Observed func(key train.Key, obs train.Observation, after train.Train)
	Acted    func(key train.Key, a train.Action)
}

// WithTrace reports the engine's steps to tr.
func WithTrace(tr Trace) Option { return func(e *Engine) { e.trace = tr } }

// WithLogger logs to l.
func WithLogger(l *zap.Logger) Option { return func(e *Engine) { e.log = l } }

// New returns an engine.
func New(cfg Config, st *store.Store, f Forge, repos Repos, opts ...Option) *Engine {
	e := &Engine{cfg: cfg.withDefaults(), store: st, forge: f, repos: repos, log: zap.NewNop(), now: time.Now}
	for _, o := range opts {
		o(e)
	}
	return e
}

// ErrBusy is returned when another worker holds the train's lease for
// longer than LeaseWait.
var ErrBusy = errors.New("train is busy")

// Handle applies observations to the train under its lease and acts until
// the train owes the world nothing. The train is created when missing.
func (e *Engine) Handle(ctx context.Context, key train.Key, obs ...train.Observation) error {
	if err := key.Validate(); err != nil {
		return err
	}
	log := e.log.With(zap.String("train", key.String()))
	release, err := e.lease(ctx, key)
	if err != nil {
		return err
	}
	defer release()
	t, err := e.load(ctx, key)
	if err != nil {
		return err
	}
	queue := obs
	for round := 0; ; round++ {
		if round >= e.cfg.MaxRounds {
			return fmt.Errorf("handle train %s: still acting after %d rounds", key, round)
		}
		results, left, actErr := e.execute(ctx, log, &t)
		t.Outbox = left
		now := e.now()
		for _, o := range append(queue, results...) {
			var actions []train.Action
			t, actions = train.Plan(t, o, now)
			t.Outbox = append(t.Outbox, actions...)
			if e.trace.Observed != nil {
				e.trace.Observed(key, o, t)
			}
		}
		queue = nil
		if t, err = e.store.Save(ctx, t); err != nil {
			return fmt.Errorf("handle train %s: %w", key, err)
		}
		if actErr != nil {
			return fmt.Errorf("handle train %s: %w", key, actErr)
		}
		if len(t.Outbox) == 0 {
			return nil
		}
		if err := e.store.RenewLease(ctx, key, e.cfg.Owner, e.cfg.LeaseTTL); err != nil {
			return fmt.Errorf("handle train %s: %w", key, err)
		}
	}
}

// lease takes the train's lease, waiting up to LeaseWait for another
// holder to finish.
func (e *Engine) lease(ctx context.Context, key train.Key) (release func(), err error) {
	deadline := time.Now().Add(e.cfg.LeaseWait)
	wait := 5 * time.Millisecond
	for {
		ok, err := e.store.AcquireLease(ctx, key, e.cfg.Owner, e.cfg.LeaseTTL)
		if err != nil {
			return nil, fmt.Errorf("lease train %s: %w", key, err)
		}
		if ok {
			return func() {
				// A fresh context: the lease must go even when ctx ended.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if err := e.store.ReleaseLease(rctx, key, e.cfg.Owner); err != nil && !errors.Is(err, store.ErrLeaseLost) {
					e.log.Warn("release lease", zap.String("train", key.String()), zap.Error(err))
				}
			}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lease train %s: %w", key, ErrBusy)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

func (e *Engine) load(ctx context.Context, key train.Key) (train.Train, error) {
	t, err := e.store.Load(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return train.New(key, e.cfg.SettingsFor(key)), nil
	}
	if err != nil {
		return train.Train{}, fmt.Errorf("load train %s: %w", key, err)
	}
	t.Settings = e.cfg.SettingsFor(key).WithDefaults()
	return t, nil
}

// Train returns the stored train, or an empty one when there is none.
func (e *Engine) Train(ctx context.Context, key train.Key) (train.Train, error) {
	return e.load(ctx, key)
}

// carBranch is the branch a car's commit is pushed to.
func (e *Engine) carBranch(key train.Key, mr int64) string {
	return gitops.CarRef(e.cfg.CarPrefix, key.Branch, mr)
}
