// Package train holds the merge train domain: trains, cars, the observations
// the outside world reports, the actions the planner asks for, and the pure
// planner that turns one into the other.
//
// Nothing in this package performs I/O, reads the clock or draws random
// numbers: time comes in as an argument, so every decision can be replayed
// and table-tested.
package train

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trainyard/trainyard/internal/lanes"
)

// Defaults applied by Settings.WithDefaults.
const (
	DefaultMaxParallel     = 20
	DefaultPipelineTimeout = 2 * time.Hour
	DefaultBatchSize       = 8
)

// Key identifies a train: one target branch of one project on one forge.
type Key struct {
	Forge   string `json:"forge"`   // "gitlab" or "github"
	Project string `json:"project"` // full path, "group/project"
	Branch  string `json:"branch"`  // target branch, "main"
}

// String renders the key as forge:project:branch, the form used in logs and
// store keys.
func (k Key) String() string { return k.Forge + ":" + k.Project + ":" + k.Branch }

// Validate reports a key with a missing part.
func (k Key) Validate() error {
	switch {
	case k.Forge == "":
		return fmt.Errorf("train key: forge is empty")
	case k.Project == "":
		return fmt.Errorf("train key: project is empty")
	case k.Branch == "":
		return fmt.Errorf("train key: branch is empty")
	}
	return nil
}

// Method is how an MR's changes are put on top of the car ahead of it.
type Method string

const (
	MethodMerge  Method = "merge"  // a merge commit with two parents
	MethodSquash Method = "squash" // one commit with the MR title as subject
	MethodRebase Method = "rebase" // each MR commit replayed, linear history
)

// Valid reports whether m is a known merge method.
func (m Method) Valid() bool {
	return m == MethodMerge || m == MethodSquash || m == MethodRebase
}

// Priority orders cars: high-priority cars go ahead of normal ones.
type Priority string

const (
	PriorityNormal Priority = "normal"
	// PriorityHigh goes to the front of the train, ahead of every car
	// but those merging: the cars behind it are rebuilt on top of it, so
	// the pipelines they were running are cancelled, as GitLab's "merge
	// immediately" restarts a train.
	PriorityHigh Priority = "high"
	// PriorityUrgent goes ahead of every car not yet under test and is
	// tested at once, alone and over the window: nothing running is
	// cancelled, and only the cars behind it that were built but not
	// started are rebuilt on top of it.
	PriorityUrgent Priority = "urgent"
)

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool {
	return p == PriorityNormal || p == PriorityHigh || p == PriorityUrgent
}

// Settings tune one train.
type Settings struct {
	// MaxParallel is the window: only the first MaxParallel cars are built
	// and tested, so at most that many pipelines run at once.
	MaxParallel int `json:"max_parallel"`
	// Retries is how many times a failed pipeline on the main line is run
	// again before its batch is tested on its own; that test is not
	// retried.
	Retries int `json:"retries"`
	// PipelineTimeout evicts a car whose pipeline has run longer than this.
	PipelineTimeout time.Duration `json:"pipeline_timeout"`
	// Method is the merge method for cars that do not choose their own.
	Method Method `json:"method"`
	// EagerEviction evicts a failed car at once, as GitLab's merge trains
	// do, instead of holding it until the pipelines around it tell whether
	// the failure is its own and testing it again. It saves a pipeline per
	// failure but evicts a good car whose failure was a flake.
	EagerEviction bool `json:"eager_eviction,omitempty"`
	// BatchSize is the most cars one pipeline tests together when the
	// queue is longer than the free pipelines; 1 turns batching off.
	BatchSize int `json:"batch_size,omitempty"`
	// MinWindow is the floor of the adaptive window: the main line's share
	// of MaxParallel grows by one with every merged car and halves with
	// every failed batch, never below MinWindow, so less CI is spent on
	// commits that a failure ahead dooms. Zero: half of MaxParallel;
	// MaxParallel: a fixed window.
	MinWindow int `json:"min_window,omitempty"`
	// MaxBatchSize, when above zero, lets the batch limit follow the
	// failure rate the train observes (see batchLimit): from BatchSize,
	// where failures are frequent, up to MaxBatchSize, where they are
	// rare enough that a window of bigger batches still ends before the
	// next broken MR. Zero: BatchSize is fixed.
	MaxBatchSize int `json:"max_batch_size,omitempty"`
	// BisectParallel, when above zero, gives the suspects of a failed
	// batch (bisect.go) a budget of their own of that many pipelines, as
	// Trunk's bisection concurrency does: their tests no longer take the
	// main line's, so the cars behind a failure are tested while it is
	// bisected. Zero: suspects share MaxParallel with the main line.
	BisectParallel int `json:"bisect_parallel,omitempty"`
	// LaneTrains tests an MR whose lanes are known when it is added in
	// the train of each lane's branch first (Lanes): it joins this train
	// once it passed in every one (Train.InLanes). Off: lanes are only
	// shown.
	LaneTrains bool `json:"lane_trains,omitempty"`
	// Schedule holds the target in freeze periods and outside merge
	// windows; cars are still tested meanwhile.
	Schedule Schedule `json:"schedule,omitzero"`
	// Lanes split the train by the paths an MR changes; each car shows
	// the lanes it touches (Car.Lanes).
	Lanes []Lane `json:"lanes,omitempty"`
}

// Lane is a named set of path patterns.
type Lane = lanes.Lane

// LanesDigest names a set of lanes as configured, so that a car can tell
// whether its lanes were read with the train's: "" for none.
func LanesDigest(ls []Lane) string {
	if len(ls) == 0 {
		return ""
	}
	h := sha256.New()
	for _, l := range ls {
		// NUL and newline appear in no name or pattern.
		fmt.Fprintf(h, "%s\x00%s\n", l.Name, strings.Join(l.Paths, "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// WithDefaults fills zero fields with the defaults.
func (s Settings) WithDefaults() Settings {
	if s.MaxParallel <= 0 {
		s.MaxParallel = DefaultMaxParallel
	}
	if s.Retries < 0 {
		s.Retries = 0
	}
	if s.PipelineTimeout <= 0 {
		s.PipelineTimeout = DefaultPipelineTimeout
	}
	if s.Method == "" {
		s.Method = MethodMerge
	}
	if s.BatchSize <= 0 {
		s.BatchSize = DefaultBatchSize
	}
	if s.MinWindow <= 0 {
		s.MinWindow = max(s.MaxParallel/2, 1)
	}
	s.MinWindow = min(s.MinWindow, s.MaxParallel)
	if s.MaxBatchSize < 0 {
		s.MaxBatchSize = 0
	}
	s.BisectParallel = max(s.BisectParallel, 0)
	return s
}

// State is where a car is in its life on the train.
type State string

const (
	// StateQueued: waiting for the car ahead to have a commit, or for a
	// place in the window.
	StateQueued State = "queued"
	// StateBuilding: a speculative commit was asked for on Base.
	StateBuilding State = "building"
	// StateBuilt: the commit exists; a pipeline is to be asked for (held
	// back while the train is paused).
	StateBuilt State = "built"
	// StateStarting: the commit exists and a pipeline was asked for.
	StateStarting State = "starting"
	// StateRunning: a pipeline runs for the car's commit.
	StateRunning State = "running"
	// StatePassed: the pipeline succeeded for exactly the car's commit.
	StatePassed State = "passed"
	// StateFailed: out of retries, held until every car ahead has passed,
	// because a failure ahead may be the real cause.
	StateFailed State = "failed"

	// Final states, found only in departure records.
	StateMerged  State = "merged"
	StateEvicted State = "evicted"
)

// Car is one MR on a train.
type Car struct {
	MR      int64  `json:"mr"`       // MR iid (PR number on GitHub)
	HeadSHA string `json:"head_sha"` // MR head when it was added; what gets merged
	Title   string `json:"title,omitempty"`
	Source  string `json:"source_branch,omitempty"`
	AddedBy string `json:"added_by"`
	// AddedVia is the API token the MR was added through; empty when it
	// was added by a comment on the forge.
	AddedVia string    `json:"added_via,omitempty"`
	AddedAt  time.Time `json:"added_at"`
	Priority Priority  `json:"priority"`
	Method   Method    `json:"method,omitempty"` // empty: the train's method
	// DependsOn are the MRs on the train this one must merge after (or
	// with): it is never merged without them and leaves with them.
	DependsOn []Dep `json:"depends_on,omitempty"`
	// Stacked is the branch the MR targets on the forge when it is
	// stacked on another MR (that one's source branch), not the train's.
	Stacked string `json:"stacked,omitempty"`
	// Lanes are the lanes of the train the MR's changes touch, in the
	// order of Settings.Lanes; empty until they are known, or when the
	// train has none.
	Lanes []string `json:"lanes,omitempty"`
	// LanesOf is the LanesDigest of the lanes Lanes were read with.
	LanesOf string `json:"lanes_of,omitempty"`
	// Laned: the MR passed the trains of its Lanes before it joined
	// (Settings.LaneTrains), so their branches carry it.
	Laned bool `json:"laned,omitempty"`

	State    State  `json:"state"`
	Base     string `json:"base,omitempty"`     // commit the speculative commit was built on
	Commit   string `json:"commit,omitempty"`   // the speculative commit
	Pipeline int64  `json:"pipeline,omitempty"` // current pipeline id
	// PipelineStartedAt is when the current pipeline was created, for timeouts.
	PipelineStartedAt time.Time `json:"pipeline_started_at,omitzero"`
	// PushedAt is when the push of Commit was made that starts its
	// pipeline by itself (GitLab's push options); zero when it does not.
	PushedAt time.Time `json:"pushed_at,omitzero"`
	// Attempts counts pipelines started for the current commit.
	Attempts int `json:"attempts"`
	// Builds counts speculative builds of this car; it makes the identity of
	// each build (and of what is done for it) unique.
	Builds int `json:"builds"`
	// Suspect is set while the car is being bisected off the main line: the
	// failed pipeline that carried its batch (see bisect.go).
	Suspect int64 `json:"suspect,omitempty"`
	// Retested: the suspect's own test has a pipeline, so a failure from
	// now on is its own. Its id cannot tell: on GitHub a pipeline id is a
	// commit and an attempt, and the test may run on the very commit whose
	// failure made the car a suspect, under the same id.
	Retested bool `json:"retested,omitempty"`
	// Detached: the suspect's base landed on the target while its pipeline
	// ran. Its result still counts; its commit can no longer be merged.
	Detached bool `json:"detached,omitempty"`
	// News is what happened to the MR while the car was frozen in a
	// fast-forward in flight: it is acted on once the push's result is in.
	News *News `json:"news,omitempty"`
	// Witness is the pipeline of the car that was behind this failed car
	// and carried it, left running when that car was rebuilt without it:
	// its result says whether the failure was this car's own.
	Witness *Witness `json:"witness,omitempty"`

	// Trail is what the car went through on this ride, oldest first: each
	// build and each pipeline with how it ended, for people to read (the
	// planner decides nothing from it). The oldest marks go past
	// MaxTrail.
	Trail []Mark `json:"trail,omitempty"`

	// Set when the car leaves the train.
	LeftAt time.Time `json:"left_at,omitzero"`
	Reason *Reason   `json:"reason,omitempty"`
}

// Dep is an MR a car depends on, with its label for people ("!12").
type Dep struct {
	MR    int64  `json:"mr"`
	Label string `json:"label"`
}

// LaneCar is an MR tested in the trains of its lanes' branches before it
// joins the train of the target (Settings.LaneTrains).
type LaneCar struct {
	// Add is how it was added; once it passed in every lane it is
	// added to the train as that says.
	Add    Added     `json:"add"`
	Lanes  []string  `json:"lanes"`
	Passed []string  `json:"passed,omitempty"`
	Since  time.Time `json:"since"`
}

func (lc LaneCar) clone() LaneCar {
	lc.Lanes, lc.Passed = slices.Clone(lc.Lanes), slices.Clone(lc.Passed)
	lc.Add.DependsOn, lc.Add.Lanes = slices.Clone(lc.Add.DependsOn), slices.Clone(lc.Add.Lanes)
	return lc
}

// Stray is a car commit whose push started, or was to start, a pipeline
// that nobody waits for.
type Stray struct {
	MR     int64     `json:"mr"`
	Commit string    `json:"commit"`
	Pushed time.Time `json:"pushed"`
}

const (
	// MaxStrays bounds the strays a train keeps: far more than a train
	// abandons between two sweeps.
	MaxStrays = 32
	// StrayWindow is how long a stray's pipeline is looked for: GitLab
	// creates a push's pipeline within seconds, minutes when its queues
	// are long.
	StrayWindow = 10 * time.Minute
)

// MaxTrail bounds a car's trail, so a car retried all day stays small.
const MaxTrail = 16

// Mark is one step of a car's trail.
type Mark struct {
	At   time.Time `json:"at"`
	Kind MarkKind  `json:"kind"`
	// Built: the speculative commit and what it was built on.
	Commit string `json:"commit,omitempty"`
	Base   string `json:"base,omitempty"`
	// Pipeline: its id, and how it ended once it did.
	Pipeline int64         `json:"pipeline,omitempty"`
	Status   PipelineState `json:"status,omitempty"`
	// Held: what held the target when the car could have merged.
	Hold   HoldKind `json:"hold,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

// MarkKind says what a Mark records.
type MarkKind string

const (
	MarkBuilt    MarkKind = "built"
	MarkPipeline MarkKind = "pipeline"
	MarkHeld     MarkKind = "held"
)

// News is what a frozen car's MR went through meanwhile; at most one of
// each kind is kept, the latest.
type News struct {
	HeadSHA string `json:"head_sha,omitempty"` // new commits: the new head
	Closed  bool   `json:"closed,omitempty"`
	Merged  bool   `json:"merged,omitempty"` // closed by a merge outside the train
	Branch  string `json:"branch,omitempty"` // retargeted to this branch
	// Rules: the forge's merge rules no longer allow the merge; why.
	Rules string `json:"rules,omitempty"`
}

// Witness is a pipeline kept running for what its result tells about a
// car ahead of the commit it tests.
type Witness struct {
	Pipeline int64  `json:"pipeline"`
	SHA      string `json:"sha"`
	// Others counts the MRs its commit carries behind the car: with one,
	// its failure all but confirms the car's; with more, it may be theirs.
	Others int           `json:"others"`
	Status PipelineState `json:"status,omitempty"` // empty until it finishes
	// Started is when the pipeline started: one that outlives the pipeline
	// timeout is given up on.
	Started time.Time `json:"started,omitzero"`
}

// ReasonCode classifies why a car left the train.
type ReasonCode string

const (
	ReasonMerged          ReasonCode = "merged"
	ReasonPipelineFailed  ReasonCode = "pipeline_failed"
	ReasonNewCommits      ReasonCode = "new_commits"
	ReasonClosed          ReasonCode = "closed"
	ReasonRetargeted      ReasonCode = "retargeted"
	ReasonMergedOutside   ReasonCode = "merged_outside"
	ReasonConflict        ReasonCode = "conflict"
	ReasonTimeout         ReasonCode = "timeout"
	ReasonRemoved         ReasonCode = "removed"
	ReasonBuildFailed     ReasonCode = "build_failed"
	ReasonPipelineRefused ReasonCode = "pipeline_refused"
	// ReasonMergeRules: the forge's merge rules no longer allowed the
	// merge (an approval revoked, changes requested, a new thread).
	ReasonMergeRules ReasonCode = "merge_rules"
	// ReasonDependency: an MR it depends on left the train unmerged.
	ReasonDependency ReasonCode = "dependency"
)

// Reason is why a car left: a code for machines and a sentence for people.
type Reason struct {
	Code ReasonCode `json:"code"`
	// Message is the sentence posted on the MR, word for word.
	Message Text `json:"message"`
	// Detail is why, as a clause ("pipeline #7 failed"), for lists that
	// already name the MR and its train, such as chat's; empty for a
	// merge, whose sentence says it all.
	Detail Text `json:"detail,omitempty"`
	// Pipeline and Commit are the MR's own pipeline and commit concerned,
	// if any: never another MR's.
	Pipeline int64  `json:"pipeline,omitempty"`
	Commit   string `json:"commit,omitempty"`
	// Base is the commit the MR was to be built on, for a conflict.
	Base  string   `json:"base,omitempty"`
	Paths []string `json:"paths,omitempty"` // conflicting paths
}

// Why is the reason as a clause: Detail, or for a record written before
// reasons had one, Message.
func (r Reason) Why() Text {
	if len(r.Detail) > 0 {
		return r.Detail
	}
	return r.Message
}

// FastForward is a move of the target branch that was asked for and whose
// result is not known yet.
type FastForward struct {
	To       string  `json:"to"`
	Expected string  `json:"expected"`
	MRs      []int64 `json:"mrs"`
	// Planned is when the move was planned. A further car that passes in
	// an observation planned at that same instant (one pass of the engine,
	// before the push was tried) takes the move over (see overtake).
	Planned time.Time `json:"planned,omitzero"`
	// Via lists, oldest first, the commits of the moves this one took
	// over: one of them may have landed all the same (a push tried before
	// it was taken over), and then the cars up to it are merged.
	Via []string `json:"via,omitempty"`
}

// Train is one target branch's queue of cars.
type Train struct {
	Key
	// Version is owned by the store: it rises by one with every save and
	// makes saves a compare-and-set.
	Version int64 `json:"version"`
	Paused  bool  `json:"paused"`
	// Frozen holds the target until someone lifts it (/train freeze):
	// unlike a pause, cars are still built and tested.
	Frozen *Hold `json:"frozen,omitempty"`
	// Draining refuses new cars while those on the train finish.
	Draining bool `json:"draining,omitempty"`
	// Held is what held the target at the last plan, so the MRs are told
	// when a hold starts or ends.
	Held HoldKind `json:"held,omitempty"`
	// Repo is the repository's own settings file as last read from the
	// target branch; nil: not read yet.
	Repo     *RepoConfig `json:"repo,omitempty"`
	Settings Settings    `json:"settings"`
	// TargetHead is the last observed head of the target branch.
	TargetHead string `json:"target_head,omitempty"`
	// Pending is a fast-forward whose result has not been observed.
	Pending *FastForward `json:"pending,omitempty"`
	// Window is the adaptive window's current size (Settings.MinWindow);
	// zero: not yet adapted.
	Window int `json:"window,omitempty"`
	// BatchMerged and BatchFailed count, with Settings.MaxBatchSize set,
	// the cars merged and the batches failed lately (both halved when
	// BatchFailed reaches 8): the adaptive batch size's measure of how
	// rare failures are.
	BatchMerged int   `json:"batch_merged,omitempty"`
	BatchFailed int   `json:"batch_failed,omitempty"`
	Cars        []Car `json:"cars"`
	// InLanes are the MRs being tested in their lanes' trains before they
	// join this one (Settings.LaneTrains), in the order they were added.
	InLanes []LaneCar `json:"in_lanes,omitempty"`
	// Strays are car commits whose push was to start a pipeline that no
	// car waits for any more: the car was rebuilt, left or merged before
	// the pipeline was seen. Such a pipeline is cancelled when it is
	// found, by its webhook or by a sweep's look (the webhook may be
	// lost). Oldest first, at most MaxStrays, each kept for StrayWindow
	// after its push.
	Strays []Stray `json:"strays,omitempty"`
	// ResetDue: this is a lane's train, and its branch carries an MR that
	// left the target's train unmerged (LaneStale). The branch is set
	// back to the target's head (ResetBranch) once no fast-forward of it
	// is in flight.
	ResetDue bool `json:"reset_due,omitempty"`
	// IdleSince is when the train last became idle (no car, no move in
	// flight); zero while it is not. A train idle long enough is retired
	// (see the engine's sweep).
	IdleSince time.Time `json:"idle_since,omitzero"`
	// Handled lists the most recent user commands (by event id) applied to
	// the train, oldest first, so a command delivered again after its
	// effect was undone (an add redelivered after the car was evicted)
	// does not act twice.
	Handled []string `json:"handled,omitempty"`
	// Outbox holds actions planned but not yet known to be carried out. The
	// planner never reads it; the engine saves it with the train, carries
	// the actions out (each is idempotent) and clears it in a later save,
	// so a crash between the two repeats actions and loses none.
	Outbox Actions `json:"outbox,omitempty"`
}

// New returns an empty train for key with settings (defaults filled in).
func New(key Key, s Settings) Train {
	return Train{Key: key, Settings: s.WithDefaults(), Cars: []Car{}}
}

// Clone returns a deep copy, so a planned train never aliases its input.
func (t Train) Clone() Train {
	c := t
	// One spare slot: adding a car, the commonest growth, then costs no
	// second copy of the whole train.
	c.Cars = make([]Car, len(t.Cars), len(t.Cars)+1)
	for i, car := range t.Cars {
		c.Cars[i] = car.clone()
	}
	c.Outbox = append(Actions(nil), t.Outbox...)
	c.Handled = append([]string(nil), t.Handled...)
	c.Strays = slices.Clone(t.Strays)
	c.InLanes = nil
	for _, lc := range t.InLanes {
		c.InLanes = append(c.InLanes, lc.clone())
	}
	if t.Frozen != nil {
		h := *t.Frozen
		c.Frozen = &h
	}
	if t.Repo != nil {
		r := *t.Repo
		c.Repo = &r
	}
	if t.Pending != nil {
		p := *t.Pending
		p.MRs = append([]int64(nil), t.Pending.MRs...)
		p.Via = append([]string(nil), t.Pending.Via...)
		c.Pending = &p
	}
	return c
}

// dependsOn reports whether the car must merge after mr.
func (c Car) dependsOn(mr int64) bool {
	return slices.ContainsFunc(c.DependsOn, func(d Dep) bool { return d.MR == mr })
}

func (c Car) clone() Car {
	c.DependsOn = slices.Clone(c.DependsOn)
	c.Lanes = slices.Clone(c.Lanes)
	if c.Reason != nil {
		r := *c.Reason
		r.Paths = append([]string(nil), c.Reason.Paths...)
		c.Reason = &r
	}
	if c.Witness != nil {
		w := *c.Witness
		c.Witness = &w
	}
	if c.News != nil {
		n := *c.News
		c.News = &n
	}
	return c
}

// RepoConfig is a repository's settings file (.trainyard.yml) as the
// train last read it from its target branch. The planner only keeps it:
// the edge that reads the file also turns it into settings.
type RepoConfig struct {
	// Commit is the target head the file was last read at.
	Commit string `json:"commit"`
	// Data is the last good content; "" when the branch has no file.
	Data string `json:"data,omitempty"`
	// GoodAt is the commit Data was read at.
	GoodAt string `json:"good_at,omitempty"`
	// Error is why the file at Commit was refused, in which case Data
	// still holds the last good one; "" when it was good.
	Error string `json:"error,omitempty"`
	// MR is the merge request that brought in the refused file, if the
	// train merged it.
	MR int64 `json:"mr,omitempty"`
}

// Hold returns what holds the train's target at now, if anything: a
// freeze by command first, then the schedule.
func (t *Train) Hold(now time.Time) (Hold, bool) {
	if t.Frozen != nil {
		return *t.Frozen, true
	}
	return t.Settings.Schedule.Active(now)
}

// Index returns the position of mr's car (0-based), or -1.
func (t *Train) Index(mr int64) int {
	for i := range t.Cars {
		if t.Cars[i].MR == mr {
			return i
		}
	}
	return -1
}

// InLanesIndex returns the index in InLanes of mr, or -1.
func (t *Train) InLanesIndex(mr int64) int {
	return slices.IndexFunc(t.InLanes, func(lc LaneCar) bool { return lc.Add.MR == mr })
}

// Car returns mr's car, or nil.
func (t *Train) Car(mr int64) *Car {
	if i := t.Index(mr); i >= 0 {
		return &t.Cars[i]
	}
	return nil
}

// RetireAfter is how long a train stays idle before it is retired: its
// record deleted (its history stays), to be made again by the next add.
const RetireAfter = 30 * 24 * time.Hour

// Retirable reports whether the train may be retired at now: idle for
// RetireAfter, owing nothing, and holding no state someone set on
// purpose (a pause, a freeze, a drain). A train idle since before
// IdleSince was kept is not yet: it must first be marked idle.
func (t *Train) Retirable(now time.Time) bool {
	return t.Idle() && len(t.Outbox) == 0 && !t.Paused && t.Frozen == nil && !t.Draining &&
		!t.IdleSince.IsZero() && now.Sub(t.IdleSince) >= RetireAfter
}

// Idle reports whether the train has nothing left to do.
func (t *Train) Idle() bool { return len(t.Cars) == 0 && t.Pending == nil && len(t.InLanes) == 0 }

// method returns the merge method the car is built with.
func (t *Train) method(c *Car) Method {
	if c.Method != "" {
		return c.Method
	}
	return t.Settings.Method
}
