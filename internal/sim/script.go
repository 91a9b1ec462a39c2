package sim

import (
	"fmt"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// Script is a fixed scenario: MRs 1..MRs are added at once; pipelines take
// one step each and finish in the order they started.
type Script struct {
	MRs         int
	Broken      []int64
	Conflicts   [][2]int64
	Flaky       []int64 // pipelines (by id) that fail once by chance
	MaxParallel int
	Retries     int
}

// Outcome is what a script run ended with.
type Outcome struct {
	Train     train.Train
	Departed  []train.Car
	Target    string
	Pipelines int
	Steps     int
}

// Event is one line of what happened, for display.
type Event struct {
	Step int
	Text string
}

// RunScript plays a script through the production planner and reports each
// observation and action to show.
func RunScript(s Script, show func(Event)) (Outcome, error) {
	w := NewWorld()
	for _, mr := range s.Broken {
		w.Broken[mr] = true
	}
	for _, c := range s.Conflicts {
		w.Conflicts[[2]int64{min(c[0], c[1]), max(c[0], c[1])}] = true
	}
	flaky := map[int64]bool{}
	for _, id := range s.Flaky {
		flaky[id] = true
	}
	r := &runner{w: w, show: show, now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	r.t = train.New(train.Key{Forge: "sim", Project: "demo/app", Branch: "main"},
		train.Settings{MaxParallel: s.MaxParallel, Retries: s.Retries})
	r.queue = append(r.queue, train.TargetHead{SHA: w.Target})
	for i := 1; i <= s.MRs; i++ {
		r.queue = append(r.queue, train.Added{MR: int64(i), HeadSHA: HeadOf(int64(i), 0),
			Title: fmt.Sprintf("Change %d", i), Source: fmt.Sprintf("feature-%d", i), By: "demo", Event: fmt.Sprintf("add-%d", i)})
	}
	const maxSteps = 100000
	for r.step = 0; r.step < maxSteps; r.step++ {
		if len(r.queue) > 0 {
			obs := r.queue[0]
			r.queue = r.queue[1:]
			r.apply(obs)
			continue
		}
		running := w.Running()
		if len(running) == 0 {
			return Outcome{Train: r.t, Departed: r.departed, Target: w.Target, Pipelines: len(w.order), Steps: r.step}, nil
		}
		r.now = r.now.Add(time.Minute)
		p := running[0]
		st := w.Finish(p.ID, flaky[p.ID])
		r.say("pipeline #%d for !%d %s", p.ID, p.MR, st.Status)
		r.queue = append(r.queue, st)
	}
	return Outcome{}, fmt.Errorf("script did not settle within %d steps", maxSteps)
}

type runner struct {
	w        *World
	t        train.Train
	show     func(Event)
	now      time.Time
	step     int
	queue    []train.Observation
	departed []train.Car
}

func (r *runner) say(format string, args ...any) {
	if r.show != nil {
		r.show(Event{Step: r.step, Text: fmt.Sprintf(format, args...)})
	}
}

func (r *runner) apply(obs train.Observation) {
	var actions []train.Action
	r.t, actions = train.Plan(r.t, obs, r.now)
	for _, a := range actions {
		r.do(a)
	}
}

func (r *runner) do(a train.Action) {
	switch a := a.(type) {
	case train.BuildCar:
		b := r.w.Build(a)
		if b.Commit != "" {
			r.say("build !%d on %s -> %s", a.MR, short(a.Base), short(b.Commit))
		}
		r.queue = append(r.queue, b)
	case train.StartPipeline:
		p, reused := r.w.StartPipeline(a)
		r.say("pipeline #%d started for !%d on %s (carries %v)", p.ID, a.MR, short(a.Commit), a.MRs)
		r.queue = append(r.queue, train.PipelineCreated{MR: a.MR, SHA: a.Commit, Pipeline: p.ID})
		if reused && p.Status.Done() {
			r.queue = append(r.queue, train.PipelineStatus{Pipeline: p.ID, SHA: p.SHA, Status: p.Status})
		}
	case train.CancelPipeline:
		r.w.Cancel(a.Pipeline)
		r.say("pipeline #%d cancelled", a.Pipeline)
	case train.FastForwardTarget:
		res := r.w.FastForward(a)
		r.say("fast-forward main %s -> %s (merges %v)", short(a.Expected), short(a.To), a.MRs)
		r.queue = append(r.queue, res)
	case train.Comment:
		r.say("comment on !%d: %s", a.MR, a.Body)
	case train.Record:
		r.departed = append(r.departed, a.Car)
	case train.Notify, train.DeleteCarRef:
	}
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}
