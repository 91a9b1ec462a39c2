package demo

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/train"
)

// redrawEvery is how often the live board is drawn again.
const redrawEvery = 200 * time.Millisecond

// writer tells what happens: one line per event, stamped with the time
// since start, or, live, a board redrawn in place with the last events.
//
// The engine's trace reports every observation it plans and every action
// it carries out, and the same one may come more than once: a sweep's
// resync asks again for builds and pipelines still in the outbox, and the
// pass carries out both copies; GitHub's check events each bring a
// check set's result again; a pass that could not save is run again. So
// the writer tells only what the train took (the car holds the commit or
// pipeline after the observation), and each event once, by its identity.
type writer struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
	// k writes MRs and pipelines as the forge does: !12 and pipeline #40
	// on GitLab, #12 and the checks on a commit on GitHub.
	k    kit
	live bool
	// size is the terminal's, for the board; nil or zero: 80×24.
	size func() (width, height int)
	// drawn: a board is on the screen, so the next one overwrites it.
	drawn  bool
	recent []string
	// told holds the identities of the events told.
	told map[string]bool
	// gen counts the creations told of each pipeline id: on GitHub a new
	// pipeline may have the id of an earlier one (checks on the same
	// commit), and its end is news again.
	gen map[int64]int
	// moves are the target's moves asked for, by the commit they move it
	// to, told once the forge took them.
	moves map[string]train.FastForwardTarget
	// merged are the MRs a move told merged.
	merged           map[int64]bool
	nMerged, nEvicts int
}

func newWriter(out io.Writer, start time.Time, live bool, size func() (int, int), k kit) *writer {
	return &writer{out: out, start: start, live: live, size: size, k: k, told: map[string]bool{},
		gen: map[int64]int{}, moves: map[string]train.FastForwardTarget{}, merged: map[int64]bool{}}
}

func (w *writer) ref(mr int64) string { return w.k.ref(mr) }

// line tells one event.
func (w *writer) line(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := fmt.Sprintf("%6.1fs  %s", time.Since(w.start).Seconds(), spell(fmt.Sprintf(format, args...)))
	if !w.live {
		fmt.Fprintln(w.out, l)
		return
	}
	w.recent = append(w.recent, l)
	if len(w.recent) > maxEvents {
		w.recent = w.recent[len(w.recent)-maxEvents:]
	}
}

// once reports whether the event named key is told for the first time.
func (w *writer) once(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.told[key] {
		return false
	}
	w.told[key] = true
	return true
}

// tell tells the event named key, once.
func (w *writer) tell(key, format string, args ...any) {
	if w.once(key) {
		w.line(format, args...)
	}
}

// text prints lines as they are, out of the board and the log.
func (w *writer) text(lines ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range lines {
		fmt.Fprintln(w.out, spell(l))
	}
}

// canceled is the forge's spelling, in statuses and in reasons the
// planner words from them; the demo prints "cancelled".
var canceled = regexp.MustCompile(`\b([Cc])anceled\b`)

func spell(s string) string { return canceled.ReplaceAllString(s, "${1}ancelled") }

// statusWord is how a pipeline's end is told.
func statusWord(s train.PipelineState) string {
	if s == train.PipelineSuccess {
		return "passed"
	}
	return spell(string(s))
}

// trainReader reads a train, as the service's router does.
type trainReader interface {
	Train(ctx context.Context, key train.Key) (train.Train, error)
}

// startBoard redraws the train every redrawEvery while live; the returned
// func draws it a last time, stops and waits for it, and the writer goes
// on with a line per event.
func (w *writer) startBoard(ctx context.Context, trains trainReader, key train.Key) func() {
	if !w.live {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(redrawEvery)
		defer tick.Stop()
		for {
			w.redraw(ctx, trains, key)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		w.redraw(context.WithoutCancel(ctx), trains, key)
		w.mu.Lock()
		w.live = false
		w.mu.Unlock()
	}
}

// redraw draws the board over the last one.
func (w *writer) redraw(ctx context.Context, trains trainReader, key train.Key) {
	t, err := trains.Train(ctx, key)
	w.mu.Lock()
	defer w.mu.Unlock()
	b := board{Title: fmt.Sprintf("Merge train %s → %s on %s", key.Project, key.Branch, w.k.title()),
		Elapsed: time.Since(w.start), Merged: w.nMerged, Evicted: w.nEvicts, Events: w.recent}
	if err == nil {
		b.Paused = t.Paused
		for _, c := range t.Cars {
			b.Cars = append(b.Cars, boardCar{MR: w.ref(c.MR), State: string(c.State), Pipeline: w.pipelineLabel(c.Pipeline),
				Commit: c.Commit, Title: c.Title})
		}
	}
	width, height := 0, 0
	if w.size != nil {
		width, height = w.size()
	}
	io.WriteString(w.out, frame(b.lines(width, height), !w.drawn))
	w.drawn = true
}

// pipelineLabel is a short name for the board: #40, or the commit whose
// checks the pipeline is.
func (w *writer) pipelineLabel(id int64) string {
	if id == 0 {
		return "-"
	}
	label := w.k.pipe(id)
	return strings.TrimPrefix(strings.TrimPrefix(label, "the checks on "), "pipeline ")
}

// summary prints how the run ended.
func (w *writer) summary(s Summary) {
	lines := []string{"", fmt.Sprintf("%d merged, %d evicted, %d pipelines, main at %.12s, in %.1fs:",
		s.Merged, s.Evicted, s.Pipelines, s.Head, s.Elapsed.Seconds())}
	for _, m := range s.MRs {
		lines = append(lines, fmt.Sprintf("  %-4s %-8s %s", w.ref(m.MR), m.State, w.k.reason(m.Reason)))
	}
	w.text(lines...)
}

func (w *writer) trace() engine.Trace {
	return engine.Trace{Observed: w.observed, Acted: w.acted}
}

// observed tells what an observation changed of train t, as it is after
// the observation.
func (w *writer) observed(_ train.Key, obs train.Observation, t train.Train) {
	switch o := obs.(type) {
	case train.Added:
		if i := t.Index(o.MR); i >= 0 {
			c := t.Cars[i]
			w.tell(fmt.Sprintf("added %d %d", c.MR, c.AddedAt.UnixNano()),
				"%s joins the train at position %d: %s", w.ref(c.MR), i+1, c.Title)
		}
	case train.Built:
		c := t.Car(o.MR)
		switch {
		case len(o.Conflict) > 0 && c == nil:
			w.tell(fmt.Sprintf("conflict %d %s", o.MR, o.Base),
				"%s does not apply: conflict in %s", w.ref(o.MR), strings.Join(o.Conflict, ", "))
		case o.Commit != "" && c != nil && c.Commit == o.Commit && c.Base == o.Base:
			w.tell(fmt.Sprintf("built %d %d %s", o.MR, c.Builds, o.Commit),
				"%s merged speculatively onto %.8s as %.8s", w.ref(o.MR), o.Base, o.Commit)
		}
	case train.PipelineCreated:
		w.pipelineTaken(t, o.MR, o.SHA, o.Pipeline)
	case train.PipelineFound:
		// A push's own pipeline: taken by the car, or only news of one.
		w.pipelineTaken(t, o.MR, o.SHA, o.Pipeline)
		w.pipelineEnded(o.Pipeline, o.Status)
	case train.PipelineStatus:
		w.pipelineEnded(o.Pipeline, o.Status)
	case train.FastForwarded:
		w.fastForwarded(t.Branch, o)
	}
}

// pipelineTaken tells that the car of mr is tested by pipeline id on sha,
// once per attempt, if it is.
func (w *writer) pipelineTaken(t train.Train, mr int64, sha string, id int64) {
	c := t.Car(mr)
	if c == nil || c.Pipeline != id || c.Commit != sha {
		return
	}
	if w.once(fmt.Sprintf("pipeline %d %d %d %d %t %d", mr, c.Builds, c.Attempts, c.Suspect, c.Retested, id)) {
		w.mu.Lock()
		w.gen[id]++
		w.mu.Unlock()
		w.line("%s: testing %.8s for %s", w.k.pipe(id), sha, w.ref(mr))
	}
}

func (w *writer) pipelineEnded(id int64, status train.PipelineState) {
	if status.Done() {
		w.tell(w.pipelineKey("end", id), "%s: %s", w.k.pipe(id), statusWord(status))
	}
}

// pipelineKey names an event of pipeline id's current creation.
func (w *writer) pipelineKey(event string, id int64) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%s %d %d", event, id, w.gen[id])
}

// fastForwarded tells a move of the target the forge took, with the MRs
// it merged, or one it refused.
func (w *writer) fastForwarded(branch string, o train.FastForwarded) {
	w.mu.Lock()
	a, ok := w.moves[o.To]
	w.mu.Unlock()
	if !ok {
		return
	}
	if o.Rejected && o.Head != o.To {
		w.tell("refused "+o.To, "%s does not move to %.8s: the forge has it at %.8s", branch, o.To, o.Head)
		return
	}
	if !w.once("moved " + o.To) {
		return
	}
	w.mu.Lock()
	for _, mr := range a.MRs {
		w.merged[mr] = true
	}
	w.mu.Unlock()
	w.line("%s moves %.8s -> %.8s, merging %s", branch, a.Expected, a.To, w.mrList(a.MRs))
}

// acted tells what an action carried out did.
func (w *writer) acted(_ train.Key, a train.Action) {
	switch a := a.(type) {
	case train.FastForwardTarget:
		w.mu.Lock()
		w.moves[a.To] = a
		w.mu.Unlock()
	case train.CancelPipeline:
		why := "what it tested is out of date"
		w.mu.Lock()
		merged := w.merged[a.MR]
		w.mu.Unlock()
		if merged {
			why = fmt.Sprintf("%s merged with the commit of a car behind it, which passed", w.ref(a.MR))
		}
		w.tell(w.pipelineKey("cancel", a.Pipeline), "%s cancelled: %s", w.k.pipe(a.Pipeline), why)
	case train.Record:
		if !w.once(fmt.Sprintf("left %d %d", a.Car.MR, a.Car.LeftAt.UnixNano())) {
			return
		}
		switch a.Car.State {
		case train.StateMerged:
			w.mu.Lock()
			w.nMerged++
			w.mu.Unlock()
		case train.StateEvicted:
			w.mu.Lock()
			w.nEvicts++
			w.mu.Unlock()
			w.line("%s leaves the train: %s", w.ref(a.Car.MR), w.k.reason(a.Car.Reason.Why()))
		}
	}
}

func (w *writer) mrList(mrs []int64) string {
	parts := make([]string, len(mrs))
	for i, m := range mrs {
		parts[i] = w.ref(m)
	}
	return strings.Join(parts, " ")
}
