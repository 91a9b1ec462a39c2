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
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// Forge is what the engine needs from a forge: its MRs, pipelines and
// notes, each small enough for a fake to implement alone.
type Forge interface {
	MRs
	Pipelines
	Notes
	Statuses
}

// MRs reads MRs and who may act on them, closes MRs and reads branches.
type MRs interface {
	MergeRequest(ctx context.Context, project string, iid int64) (forge.MR, error)
	AccessLevel(ctx context.Context, project string, userID int64) (forge.AccessLevel, error)
	CloseMR(ctx context.Context, project string, iid int64) error
	BranchHead(ctx context.Context, project, branch string) (string, error)
}

// Pipelines starts, finds, reads and cancels CI runs.
type Pipelines interface {
	CreatePipeline(ctx context.Context, project, ref string, vars map[string]string) (forge.Pipeline, error)
	PipelinesFor(ctx context.Context, project, ref, sha string) ([]forge.Pipeline, error)
	Pipeline(ctx context.Context, project string, id int64) (forge.Pipeline, error)
	// CancelPipeline reports whether it stopped the pipeline: false when
	// it had finished.
	CancelPipeline(ctx context.Context, project string, id int64) (bool, error)
}

// Notes reads and writes the comments on an MR.
type Notes interface {
	Comment(ctx context.Context, project string, iid int64, body string) error
	// Notes are the MR's notes, oldest first.
	Notes(ctx context.Context, project string, iid int64) ([]forge.Note, error)
	// PostNote and EditNote keep one note up to date: the MR's status.
	PostNote(ctx context.Context, project string, iid int64, body string) (id int64, err error)
	EditNote(ctx context.Context, project string, iid, id int64, body string) error
}

// Statuses sets Trainyard's commit status on an MR's head; the id it
// returns is given back with the next status of that commit.
type Statuses interface {
	SetCommitStatus(ctx context.Context, project string, s forge.CommitStatus) (id string, err error)
}

// Repo is a project's git mirror, where car commits are made and pushed.
type Repo interface {
	RepoReader
	RepoWriter
}

// RepoReader brings commits from the forge into the mirror.
type RepoReader interface {
	Fetch(ctx context.Context, refspecs ...string) error
	FetchBranch(ctx context.Context, branch string) (string, error)
	FetchMR(ctx context.Context, ref string) (string, error)
	HasCommit(ctx context.Context, sha string) bool
	IsAncestor(ctx context.Context, ancestor, descendant string) (bool, error)
	ChangedPaths(ctx context.Context, base, head string) ([]string, error)
}

// RepoWriter makes car commits and moves the forge's branches.
type RepoWriter interface {
	Build(ctx context.Context, req gitops.BuildRequest) (gitops.BuildResult, error)
	PushCar(ctx context.Context, ref, commit string, options ...string) (gitops.CarPush, error)
	DeleteRemoteBranch(ctx context.Context, branch string) error
	FastForwardDeleting(ctx context.Context, branch, expectedOld, to string, gone []string, options ...string) (gitops.FFResult, error)
}

// Repos opens the mirror of a project.
type Repos interface {
	Repo(ctx context.Context, project string) (Repo, error)
}

// Rules reads what a forge's merge rules say of an MR: approvals,
// requested changes, unresolved threads and the like.
type Rules interface {
	// into is the branch the train merges the MR into, which is not the
	// one it targets when it is stacked on another MR's branch.
	MergeRules(ctx context.Context, project string, iid int64, into string) (forge.Rules, error)
}

// Comments lists the comments on a project's open MRs since a time, for
// the catch-up of commands no webhook brought; next is where to go on
// from.
type Comments interface {
	CommentsSince(ctx context.Context, project string, since time.Time) (comments []forge.Comment, next time.Time, err error)
}

// Notifier tells chat about merges and evictions. It must not block the
// train: implementations queue and return.
type Notifier interface {
	Notify(ctx context.Context, key train.Key, n train.Notify)
}

// Config tunes an engine.
type Config struct {
	// Profile is the engine's forge: its name in train keys, how its MRs
	// and pipelines are written, where an MR's head is. Required (its
	// Names too) for an engine that builds cars or answers commands.
	Profile forge.Profile
	// Owner names this worker in leases; unique per process.
	Owner string
	// Settings are given to trains created by the engine when there is no
	// Policy.
	Settings train.Settings
	// CarPrefix starts car branch names: <prefix>/<target>/<iid>.
	CarPrefix string
	// MinAccess is the access level a user needs to use the train when
	// there is no Policy.
	MinAccess forge.AccessLevel
	// LeaseTTL bounds how long a dead worker keeps a train.
	LeaseTTL time.Duration
	// LeaseWait bounds how long Handle waits for another worker's lease.
	LeaseWait time.Duration
	// MaxRounds bounds the act-and-observe rounds of one Handle call.
	MaxRounds int
	// ActionTimeout bounds one action (a build, a push, a forge call), so
	// a hung call cannot hold the train's lease for ever.
	ActionTimeout time.Duration
	// Policy is what each project allows; nil: a StaticPolicy of Settings
	// and MinAccess.
	Policy Policy

	// StatusLink is the web page of an MR's journey that its status
	// comment and commit status link to; nil or "": no link.
	StatusLink func(key train.Key, mr int64) string
	// StatusGrace is how long an MR on the train goes without a commit
	// status (or check run) for it being queued or tested: one that
	// merges or leaves within it gets only its outcome's, one write
	// instead of two; past it the sweep sets it. Its status comment
	// says where it is at once. 0: DefaultStatusGrace; < 0: none.
	StatusGrace time.Duration

	// Projects are the projects whose missed commands CatchUp looks for,
	// as the configuration spells them.
	Projects []string
	// SweepEvery is the sweep interval: one replica per interval reads a
	// train's world from the forge, and one catches up on a project's
	// missed commands.
	SweepEvery time.Duration
	// DedupTTL is how long a queued command is remembered (the webhook's).
	DedupTTL time.Duration
	// PipelinesByAPI: car pipelines are created through the API even
	// where a push could start them (GitLab's ci.variable push options).
	PipelinesByAPI bool
	// PushPipelineWait is how long a car whose push should have started
	// its pipeline waits for it to show before one is created through
	// the API (when no webhook told of it: lost, or never sent).
	PushPipelineWait time.Duration
}

// Policy is what each project's configuration allows. Settings are read
// on every load of a train, so a configuration change reaches running
// trains.
type Policy interface {
	Settings(key train.Key) train.Settings
	// MinAccess is the access level a user needs to use the train.
	MinAccess(project string) forge.AccessLevel
	// PauseRole is the access level needed to pause or resume by comment.
	PauseRole(project string) forge.AccessLevel
	// PriorityRole is the access level needed to add with a priority
	// above normal.
	PriorityRole(project string) forge.AccessLevel
	// BranchAllowed tells whether a branch may have a train.
	BranchAllowed(project, branch string) bool
	// EnforceRules tells whether trains honour the forge's merge rules;
	// off, the train merges what the forge would refuse.
	EnforceRules(project string) bool
	// ForgeFastForward tells whether target branches are moved through
	// the forge's API (when it can: forge.Forwarder) instead of git push.
	ForgeFastForward(project string) bool
}

// StaticPolicy is one policy for every project: its train settings and
// access level, every branch allowed, pausing for maintainers, merge
// rules honoured unless IgnoreRules, target branches moved by git push
// unless ForgeFastForwards.
type StaticPolicy struct {
	TrainSettings     train.Settings
	Access            forge.AccessLevel
	IgnoreRules       bool
	ForgeFastForwards bool
}

func (p StaticPolicy) Settings(train.Key) train.Settings     { return p.TrainSettings }
func (p StaticPolicy) MinAccess(string) forge.AccessLevel    { return p.Access }
func (StaticPolicy) PauseRole(string) forge.AccessLevel      { return forge.Maintainer }
func (p StaticPolicy) PriorityRole(string) forge.AccessLevel { return p.Access }
func (StaticPolicy) BranchAllowed(string, string) bool       { return true }
func (p StaticPolicy) EnforceRules(string) bool              { return !p.IgnoreRules }
func (p StaticPolicy) ForgeFastForward(string) bool          { return p.ForgeFastForwards }

func (c Config) withDefaults() Config {
	if c.Owner == "" {
		c.Owner = "trainyard"
	}
	if c.CarPrefix == "" {
		c.CarPrefix = "trainyard"
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
	if c.ActionTimeout <= 0 {
		c.ActionTimeout = 2 * time.Minute
	}
	c.Settings = c.Settings.WithDefaults()
	if c.Policy == nil {
		c.Policy = StaticPolicy{TrainSettings: c.Settings, Access: c.MinAccess}
	}
	if c.PushPipelineWait <= 0 {
		c.PushPipelineWait = 30 * time.Second
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = 30 * time.Second
	}
	if c.StatusGrace == 0 {
		c.StatusGrace = DefaultStatusGrace
	}
	if c.DedupTTL <= 0 {
		c.DedupTTL = 24 * time.Hour
	}
	return c
}

// Engine runs trains. It is safe for concurrent use; the train lease keeps
// two callers, in this process or another, off one train at a time.
type Engine struct {
	cfg      Config
	store    *store.Store
	forge    Forge
	repos    Repos
	notify   Notifier
	rules    Rules
	comments Comments
	log      *zap.Logger
	now      func() time.Time
	trace    Trace
	// rulesWait is the first pause before the merge rules the forge is
	// still working out are read again; it doubles up to rulesTries reads.
	rulesWait time.Duration
	access    *accessCache
	// fresh are car commits this engine just pushed, and how.
	fresh    *freshCommits
	pushless *pushlessProjects
	slow     *slowBuilds
	// signKey signs the markers of notes (see noteKey), once read.
	keyMu   sync.Mutex
	signKey []byte
	// waker queues a pass of a train that a call outside the workers
	// (the API, the dashboard) left work for; nil: the sweep finds it.
	waker func(train.Key)
}

// Option adjusts an Engine at construction.
type Option func(*Engine)

// WithClock replaces the wall clock, for tests.
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithWaker has w queue a pass of a train that a call made outside the
// workers left work for in its inbox (an add through the API that sends
// an MR to its lanes' trains). Passes run by the workers return such
// jobs themselves.
func WithWaker(w func(train.Key)) Option { return func(e *Engine) { e.waker = w } }

// WithNotifier sends notifications to n.
func WithNotifier(n Notifier) Option { return func(e *Engine) { e.notify = n } }

// WithRules reads merge rules through r. Without it the engine cannot
// tell what the forge would refuse: only tests of other things go
// without.
func WithRules(r Rules) Option { return func(e *Engine) { e.rules = r } }

// WithComments lets CatchUp find the commands no webhook brought.
func WithComments(c Comments) Option { return func(e *Engine) { e.comments = c } }

// Trace is told of every observation the engine applies and every action
// it carries out, for displays such as the demo's.
type Trace struct {
	Observed func(key train.Key, obs train.Observation, after train.Train)
	Acted    func(key train.Key, a train.Action)
}

// WithTrace reports the engine's steps to tr, as well as to any trace given
// before.
func WithTrace(tr Trace) Option {
	return func(e *Engine) {
		prev := e.trace
		e.trace = Trace{
			Observed: func(key train.Key, obs train.Observation, after train.Train) {
				if prev.Observed != nil {
					prev.Observed(key, obs, after)
				}
				if tr.Observed != nil {
					tr.Observed(key, obs, after)
				}
			},
			Acted: func(key train.Key, a train.Action) {
				if prev.Acted != nil {
					prev.Acted(key, a)
				}
				if tr.Acted != nil {
					tr.Acted(key, a)
				}
			},
		}
	}
}

// WithLogger logs to l.
func WithLogger(l *zap.Logger) Option { return func(e *Engine) { e.log = l } }

// New returns an engine.
func New(cfg Config, st *store.Store, f Forge, repos Repos, opts ...Option) *Engine {
	e := &Engine{cfg: cfg.withDefaults(), store: st, forge: f, repos: repos, log: zap.NewNop(), now: time.Now,
		rulesWait: 250 * time.Millisecond, access: &accessCache{m: map[string]accessEntry{}}, fresh: &freshCommits{m: map[string]carPushed{}},
		pushless: &pushlessProjects{m: map[string]time.Time{}}, slow: &slowBuilds{m: map[string]int{}}}
	for _, o := range opts {
		o(e)
	}
	return e
}

// ErrBusy is returned when another worker holds the train's lease: at
// once for a pass of the workers, after LeaseWait for other callers.
var ErrBusy = errors.New("train is busy")

// Handle applies observations to the train under its lease and acts until
// the train owes the world nothing. The train is created when missing.
func (e *Engine) Handle(ctx context.Context, key train.Key, obs ...train.Observation) error {
	return e.handle(ctx, Job{Key: key, Obs: obs}, true)
}

// existing is Handle for a train that exists: store.ErrNotFound, wrapped,
// for one that does not, which is not created.
func (e *Engine) existing(ctx context.Context, key train.Key, obs ...train.Observation) error {
	return e.handle(ctx, Job{Key: key, Obs: obs}, false)
}

// handle does a job under the train's lease: it reads what the job asks
// from the forge, applies that and the job's observations, and acts until
// the train owes the world nothing. Only create makes a missing train.
func (e *Engine) handle(ctx context.Context, j Job, create bool) error {
	key := j.Key
	if err := key.Validate(); err != nil {
		return err
	}
	log := e.log.With(zap.String("train", key.String()))
	ctx = forge.ForBranch(ctx, key.Branch)
	if !create {
		// No need to wait for the lease of a train that is not there.
		if ok, err := e.store.Exists(ctx, key); err != nil || !ok {
			if err == nil {
				err = e.noteUnknownHeads(ctx, train.Train{Key: key}, j.Obs)
			}
			return cmp.Or(err, fmt.Errorf("train %s: %w", key, store.ErrNotFound))
		}
	}
	ctx, release, h, err := e.lease(ctx, key)
	if err != nil {
		return err
	}
	defer release()
	if j.inboxOnly && !h.inbox {
		// The holder took what was forwarded. What it left in the outbox
		// it carries out itself, from its own mirror, when it takes the
		// lease back; a holder that died leaves it to the next event or
		// sweep.
		return nil
	}
	t, err := e.load(ctx, key)
	if err != nil {
		return err
	}
	if t.Version == 0 && !create {
		return fmt.Errorf("train %s: %w", key, store.ErrNotFound)
	}
	var swept bool
	queue, err := e.read(ctx, log, t, j, &swept)
	if err != nil {
		return err
	}
	// Forwarded work came before the job's own events, which are newer.
	var inbox []store.Forwarded
	if h.inbox {
		var fwd []train.Observation
		fwd, inbox = e.readInbox(ctx, log, t)
		queue = append(queue, fwd...)
	}
	queue = append(queue, j.Obs...)
	if len(queue) > 0 || len(t.Outbox) > 0 || t.Version == 0 {
		if err := e.rounds(ctx, log, &t, queue); err != nil {
			return err
		}
	}
	if err := e.store.DropInbox(ctx, key, h.token, inbox); err != nil {
		return err
	}
	var more []train.Observation
	for _, f := range j.after {
		obs, err := f(ctx, t)
		if err != nil {
			return fmt.Errorf("handle train %s: %w", key, err)
		}
		more = append(more, obs...)
	}
	if len(more) > 0 {
		if err := e.rounds(ctx, log, &t, more); err != nil {
			return err
		}
	}
	if swept {
		// After the sweep's news is planned: a car that it showed left
		// owes nothing but its outcome, already set.
		if err := e.payOwed(ctx, &t); err != nil {
			// Owed still: the next sweep tries again.
			log.Warn("set the commit statuses owed", zap.Error(err))
		}
	}
	for _, f := range j.done {
		if err := f(ctx); err != nil {
			return fmt.Errorf("handle train %s: %w", key, err)
		}
	}
	return e.inboxRounds(ctx, log, &t, h.token)
}

// rounds plans queue, saves, and carries out the outbox, planning and
// saving its results, until the train owes the world nothing. Actions are
// saved before they are carried out, so a crash never loses one. What
// came in is planned before an outbox left from before is carried out: a
// car that passed then merges ahead of the builds queued behind it.
func (e *Engine) rounds(ctx context.Context, log *zap.Logger, t *train.Train, queue []train.Observation) error {
	key := t.Key
	for round := 0; ; round++ {
		if round >= e.cfg.MaxRounds {
			return fmt.Errorf("handle train %s: still acting after %d rounds", key, round)
		}
		if ce := log.Check(zap.DebugLevel, "round"); ce != nil {
			ce.Write(zap.Int("round", round), zap.Int("outbox", len(t.Outbox)), zap.Int("cars", len(t.Cars)), zap.Bool("pending", t.Pending != nil))
		}
		var results []train.Observation
		var yield bool
		var actErr error
		if len(queue) == 0 || len(t.Outbox) == 0 {
			results, t.Outbox, yield, actErr = e.execute(ctx, log, t)
		}
		now := e.now()
		if err := e.noteUnknownHeads(ctx, *t, queue); err != nil {
			return err
		}
		for _, o := range append(results, queue...) {
			var actions []train.Action
			*t, actions = train.Plan(*t, o, now)
			t.Outbox = append(t.Outbox, actions...)
			if e.trace.Observed != nil {
				e.trace.Observed(key, o, *t)
			}
		}
		queue = nil
		saved, err := e.store.Save(ctx, *t)
		if err != nil {
			return fmt.Errorf("handle train %s: %w", key, err)
		}
		*t = saved
		if actErr != nil {
			return fmt.Errorf("handle train %s: %w", key, actErr)
		}
		if yield && len(t.Outbox) > 0 {
			noteYield(ctx)
			return nil
		}
		if len(t.Outbox) == 0 {
			// Settled: read the repository's settings where the target
			// moved, then plan with them.
			if o, ok := e.readRepoFile(ctx, log, *t); ok {
				queue = []train.Observation{o}
				continue
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("handle train %s: %w", key, context.Cause(ctx))
		}
	}
}

// noteUnknownHeads marks the head of each MR that changed while it is not
// on the train: it may be on its way there (see recheckHead).
func (e *Engine) noteUnknownHeads(ctx context.Context, t train.Train, obs []train.Observation) error {
	for _, o := range obs {
		hc, ok := o.(train.HeadChanged)
		if !ok || t.Index(hc.MR) >= 0 {
			continue
		}
		if err := e.store.SetMark(ctx, seenName(t.Key, hc.MR), hc.HeadSHA, seenKeep); err != nil {
			return err
		}
	}
	return nil
}

// read reads from the forge what job j asks, under the lease: the
// train's MRs and pipelines for a sweep, the pipelines of commits whose
// checks changed, and the target's head, which comes first. A head older
// than the train's is not taken.
func (e *Engine) read(ctx context.Context, log *zap.Logger, t train.Train, j Job, swept *bool) ([]train.Observation, error) {
	var obs []train.Observation
	// A push to the head the train holds (its own fast-forward), or to one
	// its mirror knows to be older (a late event for an earlier move),
	// tells nothing new: a head read then would not be taken anyway.
	forge := j.Head && (j.pushed == "" || j.pushed != t.TargetHead && !e.behind(ctx, t, j.pushed))
	head := forge || j.headIfIdle && t.Idle()
	if j.Sweep && (!t.Idle() || len(t.Strays) > 0) {
		due, err := e.sweepDue(ctx, t.Key, j.force)
		if err != nil {
			return nil, err
		}
		if due {
			if obs, err = e.observe(ctx, t); err != nil {
				return nil, err
			}
			obs = append(obs, e.staleLanes(ctx, t)...)
			obs = append(obs, e.lostLanes(ctx, t)...)
			head, forge = true, true
			if swept != nil {
				*swept = true
			}
		}
	}
	if len(j.Checks) > 0 {
		news, err := e.checks(ctx, t, j.Checks)
		if err != nil {
			return nil, err
		}
		obs = append(obs, news...)
	}
	if !head {
		return obs, nil
	}
	var h train.TargetHead
	var err error
	if forge {
		h, err = e.targetHead(ctx, t.Key)
	} else {
		h, err = e.fetchedHead(ctx, t.Key)
	}
	if err != nil {
		return nil, err
	}
	if e.behind(ctx, t, h.SHA) {
		log.Debug("the forge's head of the target is behind the train's; kept the train's",
			zap.String("forge_head", h.SHA), zap.String("train_head", t.TargetHead))
		return obs, nil
	}
	return append([]train.Observation{h}, obs...), nil
}

// sweepDue tells whether this sweep should read the forge: forced, or
// no replica swept the train within most of a sweep interval, so the
// forge is read once per interval however many replicas sweep.
func (e *Engine) sweepDue(ctx context.Context, key train.Key, force bool) (bool, error) {
	if force {
		return true, nil
	}
	due, err := e.store.Once(ctx, "sweep:"+key.String(), e.cfg.SweepEvery*9/10)
	if err != nil {
		return false, fmt.Errorf("sweep train %s: %w", key, err)
	}
	return due, nil
}

// Pass does one job with a single try at the train's lease (ErrBusy when
// another holds it): what the workers run for each train they take. A
// command reads what it needs from the forge and returns the job its
// train must do, which the workers queue with that train's other work.
func (e *Engine) Pass(ctx context.Context, j Job) ([]Job, error) {
	ctx = context.WithValue(ctx, oneTryKey{}, true)
	if j.Command != nil {
		return e.command(ctx, *j.Command, j.parsed)
	}
	err := e.handle(ctx, j, j.create)
	next := woken(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return next, nil // forge events never make trains
	case err == nil && yielded(ctx):
		return append(next, Job{Key: j.Key}), nil // the rest of the outbox
	}
	return next, err
}

// othersWaitKey holds a context's *waitHook (set by the workers, which
// know what waits).
type othersWaitKey struct{}

type waitHook struct {
	waiting func() bool
	// served, when set, is told that the work forwarded to the train
	// was taken (see Forward).
	served func()
	// yielded: a pass ended with work left in its outbox.
	yielded bool
	// woken are other trains the pass left work for (lanetrains.go).
	woken []train.Key
}

// WithOthersWaiting returns ctx for a pass that should let other work in
// when waiting() says some waits: a result for its train, or for another
// while every worker is busy. The pass then ends after the action at
// hand, with what is left of its outbox saved, and Pass returns a job
// for its train that carries the rest out.
func WithOthersWaiting(ctx context.Context, waiting func() bool) context.Context {
	return context.WithValue(ctx, othersWaitKey{}, &waitHook{waiting: waiting})
}

func othersWait(ctx context.Context) bool {
	h, _ := ctx.Value(othersWaitKey{}).(*waitHook)
	return h != nil && h.waiting()
}

// noteServed tells the workers that the train's forwarded work was taken.
func noteServed(ctx context.Context) {
	if h, _ := ctx.Value(othersWaitKey{}).(*waitHook); h != nil && h.served != nil {
		h.served()
	}
}

// noteYield records in ctx that a pass left work for a later one.
func noteYield(ctx context.Context) {
	if h, _ := ctx.Value(othersWaitKey{}).(*waitHook); h != nil {
		h.yielded = true
	}
}

// wake asks for a pass of the train of key, which a pass under ctx left
// work for in its inbox: the workers' pass returns it as a job; a direct
// call has the waker queue it, or without one leaves it to the sweep.
func (e *Engine) wake(ctx context.Context, key train.Key) {
	h, _ := ctx.Value(othersWaitKey{}).(*waitHook)
	switch {
	case h != nil:
		if !slices.Contains(h.woken, key) {
			h.woken = append(h.woken, key)
		}
	case e.waker != nil:
		e.waker(key)
	}
}

// woken are the jobs of the trains a pass under ctx woke.
func woken(ctx context.Context) []Job {
	h, _ := ctx.Value(othersWaitKey{}).(*waitHook)
	if h == nil {
		return nil
	}
	jobs := make([]Job, 0, len(h.woken))
	for _, k := range h.woken {
		jobs = append(jobs, Job{Key: k})
	}
	return jobs
}

// yielded reports whether a pass under ctx left work for a later one.
func yielded(ctx context.Context) bool {
	h, _ := ctx.Value(othersWaitKey{}).(*waitHook)
	return h != nil && h.yielded
}

// held is a train's lease as a pass holds it.
type held struct {
	token string
	// inbox: work forwarded to the train waited in its inbox when the
	// lease was taken (see Forward).
	inbox bool
}

// oneTryKey marks a context whose caller must not wait for a busy lease:
// a worker, which has other trains to serve.
type oneTryKey struct{}

// lease takes the train's lease, waiting up to LeaseWait for another
// holder to finish (not at all in a worker's pass), and keeps renewing it
// until release is called. The returned context ends if the lease is
// lost, so no action is started for a train another worker may have
// taken over; the compare-and-set on save catches anything already under
// way.
func (e *Engine) lease(ctx context.Context, key train.Key) (_ context.Context, release func(), h held, err error) {
	token, err := e.leaseToken()
	if err != nil {
		return nil, nil, held{}, err
	}
	deadline := time.Now().Add(e.cfg.LeaseWait)
	oneTry, _ := ctx.Value(oneTryKey{}).(bool)
	wait := 5 * time.Millisecond
	for {
		ok, inbox, err := e.store.AcquireLeaseInbox(ctx, key, token, e.cfg.LeaseTTL)
		if err != nil {
			return nil, nil, held{}, fmt.Errorf("lease train %s: %w", key, err)
		}
		if ok {
			lctx, release := e.keepLease(ctx, key, token)
			return lctx, release, held{token: token, inbox: inbox}, nil
		}
		if oneTry || time.Now().After(deadline) {
			return nil, nil, held{}, fmt.Errorf("lease train %s: %w", key, ErrBusy)
		}
		select {
		case <-ctx.Done():
			return nil, nil, held{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

// keepLease renews a held lease every third of its TTL until release.
func (e *Engine) keepLease(ctx context.Context, key train.Key, token string) (context.Context, func()) {
	return e.keepRenewed(ctx, e.cfg.LeaseTTL, "lease of train "+key.String(),
		func(ctx context.Context) error { return e.store.RenewLease(ctx, key, token, e.cfg.LeaseTTL) },
		func(ctx context.Context) error { return e.store.ReleaseLease(ctx, key, token) })
}

// keepRenewed renews something held for ttl every third of it until the
// returned release, which gives it up. The returned context ends, with
// the cause, when a renewal fails.
func (e *Engine) keepRenewed(ctx context.Context, ttl time.Duration, what string, renew, release func(context.Context) error) (context.Context, func()) {
	lctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-lctx.Done():
				return
			case <-t.C:
				if err := renew(lctx); err != nil {
					if lctx.Err() != nil {
						return // stopping, not lost
					}
					err = fmt.Errorf("%s lost: %w", what, err)
					e.log.Warn("renew", zap.Error(err))
					cancel(err)
					return
				}
			}
		}
	})
	return lctx, func() {
		close(stop)
		wg.Wait()
		cancel(nil)
		// A fresh context: it must go even when ctx ended.
		rctx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer done()
		if err := release(rctx); err != nil && !errors.Is(err, store.ErrLeaseLost) {
			e.log.Warn("release", zap.String("what", what), zap.Error(err))
		}
	}
}

// leaseToken is unique to one holding of a lease, so a worker whose lease
// expired can never renew or release the one another worker took since.
func (e *Engine) leaseToken() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("lease token: %w", err)
	}
	return e.cfg.Owner + "/" + hex.EncodeToString(b), nil
}

func (e *Engine) load(ctx context.Context, key train.Key) (train.Train, error) {
	t, err := e.store.Load(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return train.New(key, e.settings(ctx, key)), nil
	}
	if err != nil {
		return train.Train{}, fmt.Errorf("load train %s: %w", key, err)
	}
	e.applySettings(ctx, &t)
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
