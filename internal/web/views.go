package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
	v1 "github.com/trainyard/trainyard/pkg/api"
)

// trainRow is one train on the index page.
type trainRow struct {
	Key             train.Key
	URL, ForgeTitle string
	Cars, Running   int
	Paused, Merging bool
	Draining        bool
	Hold            *holdView // nil: nothing holds the target
	MergedDay       int
	P50             time.Duration
	HasP50          bool
	LastETA         time.Duration
	HasETA          bool
}

type indexPage struct {
	Trains []trainRow
}

func (d *Dashboard) index(r *http.Request) (string, any, error) {
	ctx := r.Context()
	keys, err := d.Trains.Trains(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("list trains: %w", err)
	}
	out := indexPage{Trains: make([]trainRow, 0, len(keys))}
	for _, k := range keys {
		t, err := d.Trains.Train(ctx, k)
		if err != nil {
			return "", nil, fmt.Errorf("load %s: %w", trainName(k), err)
		}
		hist := d.history(ctx, k)
		row := trainRow{Key: k, URL: trainURL(k), ForgeTitle: d.Profiles.Of(k.Forge).Title, Cars: len(t.Cars),
			Paused: t.Paused, Merging: t.Pending != nil, Draining: t.Draining, Hold: holdOf(t, d.Now())}
		for _, c := range t.Cars {
			if c.State == train.StateStarting || c.State == train.StateRunning {
				row.Running++
			}
		}
		row.MergedDay, row.P50 = mergeStats(hist, d.Now())
		row.HasP50 = row.P50 > 0
		if n := len(t.Cars); n > 0 {
			est := train.EstimateFor(t, d.Now(), train.PipelineDuration(hist))
			row.LastETA, row.HasETA = est.At(n-1, t.Cars[n-1])
		}
		out.Trains = append(out.Trains, row)
	}
	return "index", out, nil
}

// holdView is what holds a train's target, for people.
type holdView struct {
	Kind  string // the kind as a badge says it: "frozen", "freeze period", "outside merge windows"
	Class string // the badge's class
	// What holds the target, to follow "nothing merges while": "the
	// train is frozen by alice".
	What   string
	Reason string    // the freeze's reason as given, or the merge windows
	Until  time.Time // zero: until someone lifts it
}

// holdOf is what holds t's target at now, nil if nothing does.
func holdOf(t train.Train, now time.Time) *holdView {
	h, held := t.Hold(now)
	if !held {
		return nil
	}
	v := &holdView{Kind: string(h.Kind), Class: "held", Reason: h.Reason, Until: h.Until}
	switch h.Kind {
	case train.HoldFrozen:
		v.Kind, v.Class, v.What = "frozen", "frozen", "the train is frozen"
		if h.By != "" {
			v.What += " by " + h.By
		}
	case train.HoldFreeze:
		v.Kind, v.What = "freeze period", "the target branch is in a freeze period"
	case train.HoldWindow:
		v.Kind, v.What = "outside merge windows", "the target branch is outside its merge windows"
	default:
		v.What = "the target branch is held"
	}
	return v
}

// history reads a train's recent departures. They are extras on every
// page (statistics, estimates), so a failure is logged and shows as none.
func (d *Dashboard) history(ctx context.Context, k train.Key) []train.Car {
	hist, err := d.Trains.History(ctx, k, historyRead)
	if err != nil {
		d.Logger.Warn("read history", zap.String("train", k.String()), zap.Error(err))
		return nil
	}
	return hist
}

// carRow is one car on a train's page.
type carRow struct {
	Position                  int
	MR                        int64
	Label, Title, MRURL, Page string
	State                     string
	Base, Commit              string
	RidesWith                 string // label of the MR whose pipeline tests this car too
	Priority                  string // urgent or high; "" for a normal car
	DependsOn                 []string
	StackedOn                 string
	Lanes                     []string
	Bisecting                 bool
	Pipeline, PipelineURL     string
	AddedBy                   string
	OnTrain                   time.Duration
	ETA                       time.Duration
	HasETA                    bool
	Attempts                  int
	CanRetry                  bool
	RemoveURL, RetryURL       string
}

// laneRow is an MR being tested in its lanes' trains, on a train's page.
type laneRow struct {
	Label, Title, MRURL, Page string
	AddedBy                   string
	Since                     time.Duration
	Lanes                     []laneState
}

// laneState is where an MR stands in one of its lanes.
type laneState struct {
	Lane   string
	Passed bool
}

// departure is one car that left, on a train's or an MR's page.
type departure struct {
	Train                 train.Key
	TrainURL              string
	MR                    int64
	Label, Title, MRURL   string
	Page                  string
	State                 string
	Reason, ReasonCode    string
	Base, Commit          string
	Pipeline, PipelineURL string
	AddedBy               string
	AddedAt, LeftAt       time.Time
	PipelineStartedAt     time.Time
}

type trainPage struct {
	Key                    train.Key
	URL, ForgeTitle        string
	BranchURL, TargetHead  string
	Paused, Merging        bool
	Draining, Frozen       bool
	Hold                   *holdView // nil: nothing holds the target
	Version                int64
	Cars                   []carRow
	InLanes                []laneRow
	History                []departure
	PauseURL, ResumeURL    string
	FreezeURL, UnfreezeURL string
	DrainURL, UndrainURL   string
	MaxReason              int
}

func (d *Dashboard) trainPage(r *http.Request) (string, any, error) {
	k, err := keyOf(r)
	if err != nil {
		return "", nil, err
	}
	ctx := r.Context()
	t, err := d.load(ctx, k)
	if err != nil {
		return "", nil, err
	}
	hist := d.history(ctx, k)
	p := d.Profiles.Of(k.Forge)
	u := trainURL(k)
	out := trainPage{Key: k, URL: u, ForgeTitle: p.Title, BranchURL: p.Link().Branch(k.Project, k.Branch),
		TargetHead: t.TargetHead, Paused: t.Paused, Merging: t.Pending != nil, Version: t.Version,
		Draining: t.Draining, Frozen: t.Frozen != nil, Hold: holdOf(t, d.Now()),
		PauseURL: u + "/pause", ResumeURL: u + "/resume", FreezeURL: u + "/freeze", UnfreezeURL: u + "/unfreeze",
		DrainURL: u + "/drain", UndrainURL: u + "/undrain", MaxReason: v1.MaxReason}
	est := train.EstimateFor(t, d.Now(), train.PipelineDuration(hist))
	for i, c := range t.Cars {
		row := carRow{Position: i + 1, MR: c.MR, Label: p.Label(c.MR), Title: c.Title, MRURL: p.Link().MR(k.Project, c.MR),
			Page: mrURL(k.Forge, k.Project, c.MR), State: string(c.State), Base: c.Base, Commit: c.Commit,
			Bisecting: c.Suspect != 0, AddedBy: c.AddedBy, OnTrain: max(0, d.Now().Sub(c.AddedAt)), Attempts: c.Attempts,
			CanRetry:  c.State == train.StateFailed,
			RemoveURL: fmt.Sprintf("%s/cars/%d/remove", u, c.MR), RetryURL: fmt.Sprintf("%s/cars/%d/retry", u, c.MR)}
		if with := t.RidesWith(i); with != 0 {
			row.RidesWith = p.Label(with)
		}
		if c.Priority == train.PriorityUrgent || c.Priority == train.PriorityHigh {
			row.Priority = string(c.Priority)
		}
		for _, dep := range c.DependsOn {
			row.DependsOn = append(row.DependsOn, p.Label(dep.MR))
		}
		row.StackedOn = c.Stacked
		row.Lanes = c.Lanes
		if c.Pipeline != 0 {
			row.Pipeline, row.PipelineURL = p.PipelineLabel(c.Pipeline), p.Link().Pipeline(k.Project, c.Pipeline)
		}
		row.ETA, row.HasETA = est.At(i, c)
		out.Cars = append(out.Cars, row)
	}
	for _, lc := range t.InLanes {
		row := laneRow{Label: p.Label(lc.Add.MR), Title: lc.Add.Title, MRURL: p.Link().MR(k.Project, lc.Add.MR),
			Page: mrURL(k.Forge, k.Project, lc.Add.MR), AddedBy: lc.Add.By, Since: max(0, d.Now().Sub(lc.Since))}
		for _, l := range lc.Lanes {
			row.Lanes = append(row.Lanes, laneState{Lane: l, Passed: slices.Contains(lc.Passed, l)})
		}
		out.InLanes = append(out.InLanes, row)
	}
	for _, c := range hist[:min(len(hist), 50)] {
		out.History = append(out.History, d.departureOf(k, c))
	}
	return "train", out, nil
}

// load reads a train that exists.
func (d *Dashboard) load(ctx context.Context, k train.Key) (train.Train, error) {
	t, err := d.Trains.Train(ctx, k)
	if err != nil {
		return t, fmt.Errorf("load %s: %w", trainName(k), err)
	}
	// The engine hands out a fresh train for a key it never stored.
	if t.Version == 0 {
		return t, notFound("There is no %s.", trainName(k))
	}
	return t, nil
}

// departureOf renders a history record as the API does: the reason is the
// sentence the MR was told, naming the MR's own pipeline and commit.
func (d *Dashboard) departureOf(k train.Key, c train.Car) departure {
	p := d.Profiles.Of(k.Forge)
	out := departure{Train: k, TrainURL: trainURL(k), MR: c.MR, Label: p.Label(c.MR), Title: c.Title,
		MRURL: p.Link().MR(k.Project, c.MR), Page: mrURL(k.Forge, k.Project, c.MR), State: string(c.State),
		Base: c.Base, Commit: c.Commit, AddedBy: c.AddedBy, AddedAt: c.AddedAt, LeftAt: c.LeftAt,
		PipelineStartedAt: c.PipelineStartedAt}
	pipeline := c.Pipeline
	if r := c.Reason; r != nil {
		out.Reason, out.ReasonCode = r.Message.Render(p.PipelineLabel), string(r.Code)
		if r.Pipeline != 0 {
			pipeline = r.Pipeline
		}
		if r.Commit != "" {
			out.Commit = r.Commit
		}
		if r.Base != "" {
			out.Base = r.Base
		}
		if r.Code == train.ReasonConflict || r.Code == train.ReasonBuildFailed {
			// Never built: no commit or pipeline of its own.
			out.Commit, pipeline = "", 0
		}
	}
	if pipeline != 0 {
		out.Pipeline, out.PipelineURL = p.PipelineLabel(pipeline), p.Link().Pipeline(k.Project, pipeline)
	}
	return out
}

// step is one moment of an MR's journey.
type step struct {
	At     time.Time // zero: the time is not recorded
	What   string
	Label  string // what the step made, such as a pipeline's name
	Link   string // Label's page on the forge, if any
	Detail string // more words, after Label
}

// ride is one time the MR was on a train: the current one or a departure.
type ride struct {
	Train    train.Key
	TrainURL string
	Current  bool
	// InLanes: on the train, tested in its lanes' trains first (their
	// rides are shown too); no position yet.
	InLanes  bool
	Position int
	State    string
	Steps    []step
}

type mrPage struct {
	Forge, Project, Label, Title, MRURL string
	Rides                               []ride
}

func (d *Dashboard) mrPage(r *http.Request) (string, any, error) {
	forgeName, project := forgeOf(r), r.PathValue("project")
	if forgeName == "" || project == "" {
		return "", nil, badRequest("Want /mrs/FORGE/PROJECT/MR with the project escaped like group%%2Fapp.")
	}
	mr, err := strconv.ParseInt(r.PathValue("mr"), 10, 64)
	if err != nil || mr <= 0 {
		return "", nil, badRequest("Want a merge request number, not %q.", r.PathValue("mr"))
	}
	ctx := r.Context()
	keys, err := d.Trains.Trains(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("list trains: %w", err)
	}
	p := d.Profiles.Of(forgeName)
	out := mrPage{Forge: forgeName, Project: project, Label: p.Label(mr), MRURL: p.Link().MR(project, mr)}
	for _, k := range keys {
		if k.Forge != forgeName || !forge.SameProject(k.Project, project) {
			continue
		}
		t, err := d.Trains.Train(ctx, k)
		if err != nil {
			return "", nil, fmt.Errorf("load %s: %w", trainName(k), err)
		}
		if i := t.Index(mr); i >= 0 {
			c := t.Cars[i]
			out.Title = c.Title
			out.Rides = append(out.Rides, ride{Train: k, TrainURL: trainURL(k), Current: true, Position: i + 1,
				State: string(c.State), Steps: d.journey(k, c, nil)})
		}
		for _, lc := range t.InLanes {
			if lc.Add.MR != mr {
				continue
			}
			out.Title = lc.Add.Title
			detail := "by " + lc.Add.By + "; tested in its lanes first: " + train.QuoteAll(lc.Lanes)
			if len(lc.Passed) > 0 {
				detail += "; passed in " + train.QuoteAll(lc.Passed)
			}
			out.Rides = append(out.Rides, ride{Train: k, TrainURL: trainURL(k), Current: true, InLanes: true, State: "queued",
				Steps: []step{{At: lc.Since, What: "added", Detail: detail}}})
		}
		for _, c := range d.history(ctx, k) {
			if c.MR != mr {
				continue
			}
			if out.Title == "" {
				out.Title = c.Title
			}
			dep := d.departureOf(k, c)
			out.Rides = append(out.Rides, ride{Train: k, TrainURL: trainURL(k), State: string(c.State), Steps: d.journey(k, c, &dep)})
		}
	}
	if len(out.Rides) == 0 {
		return "", nil, notFound("%s of %s is on no train and in no train's recent history.", out.Label, project)
	}
	return "mr", out, nil
}

// journey is what the stored car tells of its ride, oldest first: each
// build and pipeline from its trail, then when and why it left. A car
// stored before cars kept a trail shows its last build and pipeline.
func (d *Dashboard) journey(k train.Key, c train.Car, left *departure) []step {
	p := d.Profiles.Of(k.Forge)
	steps := []step{{At: c.AddedAt, What: "added", Detail: "by " + c.AddedBy}}
	if len(c.Trail) > 0 {
		for _, m := range c.Trail {
			switch m.Kind {
			case train.MarkBuilt:
				steps = append(steps, step{At: m.At, What: "built", Link: p.Link().Commit(k.Project, m.Commit),
					Label: "commit " + shortSHA(m.Commit), Detail: "on " + shortSHA(m.Base)})
			case train.MarkPipeline:
				steps = append(steps, step{At: m.At, What: "pipeline", Link: p.Link().Pipeline(k.Project, m.Pipeline),
					Label: p.PipelineLabel(m.Pipeline), Detail: pipelineEnd(m.Status)})
			case train.MarkHeld:
				// It could have merged; Reason says what held the target.
				steps = append(steps, step{At: m.At, What: "held", Detail: cmp.Or(m.Reason, string(m.Hold))})
			}
		}
		return append(steps, leftStep(c, left)...)
	}
	base, commit, pipeline := c.Base, c.Commit, c.Pipeline
	if left != nil {
		base, commit = left.Base, left.Commit
	}
	if commit != "" {
		st := step{What: "built", Link: p.Link().Commit(k.Project, commit), Label: "commit " + shortSHA(commit)}
		if base != "" {
			st.Detail = "on " + shortSHA(base)
		}
		steps = append(steps, st)
	}
	switch {
	case left != nil && left.Pipeline != "":
		steps = append(steps, step{At: c.PipelineStartedAt, What: "pipeline", Link: left.PipelineURL, Label: left.Pipeline})
	case left == nil && pipeline != 0:
		st := step{At: c.PipelineStartedAt, What: "pipeline", Link: p.Link().Pipeline(k.Project, pipeline), Label: p.PipelineLabel(pipeline)}
		if c.Attempts > 1 {
			st.Detail = fmt.Sprintf("attempt %d", c.Attempts)
		}
		steps = append(steps, st)
	}
	return append(steps, leftStep(c, left)...)
}

// leftStep is the last step of a ride that ended.
func leftStep(c train.Car, left *departure) []step {
	if left == nil {
		return nil
	}
	st := step{At: c.LeftAt, What: left.State, Detail: left.Reason}
	if st.Detail == "" && left.ReasonCode != left.State {
		st.Detail = left.ReasonCode
	}
	return []step{st}
}

// pipelineEnd says how a pipeline on the trail ended, "" while it runs.
func pipelineEnd(s train.PipelineState) string {
	switch s {
	case train.PipelineSuccess:
		return "passed"
	case train.PipelineCanceled:
		return "cancelled"
	case "":
		return ""
	}
	return string(s)
}

// keyOf reads the train a path names; ServeMux has unescaped the segments.
func keyOf(r *http.Request) (train.Key, error) {
	k := train.Key{Forge: forgeOf(r), Project: r.PathValue("project"), Branch: r.PathValue("branch")}
	if k.Forge == "" || k.Project == "" || k.Branch == "" || strings.ContainsAny(k.Project+k.Branch, "\x00\n\r") {
		return k, badRequest("Want /trains/FORGE/PROJECT/BRANCH with the project and branch escaped like group%%2Fapp.")
	}
	return k, nil
}

// forgeOf is the path's forge name, "" when it is not one.
func forgeOf(r *http.Request) string {
	f := r.PathValue("forge")
	if strings.ContainsFunc(f, func(c rune) bool { return c < 'a' || c > 'z' }) {
		return ""
	}
	return f
}
