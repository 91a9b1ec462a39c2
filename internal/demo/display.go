package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/train"
)

// Live display tuning.
const (
	redrawEvery = 200 * time.Millisecond
	logLines    = 8
	clearScreen = "\x1b[H\x1b[2J"
)

// writer tells what happens: one line per event, stamped with the time
// since start, or, live, a board redrawn in place with the last events.
type writer struct {
	mu     sync.Mutex
	out    io.Writer
	start  time.Time
	live   bool
	recent []string
	// told holds the pipelines whose end was told: GitHub's check events
	// each bring the same result again.
	told map[int64]bool
	// k writes MRs and pipelines as the forge does: !12 and pipeline #40
	// on GitLab, #12 and the checks on a commit on GitHub.
	k kit
}

func newWriter(out io.Writer, start time.Time, live bool, k kit) *writer {
	return &writer{out: out, start: start, live: live, k: k, told: map[int64]bool{}}
}

func (w *writer) ref(mr int64) string { return w.k.ref(mr) }

func (w *writer) line(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := fmt.Sprintf("%6.1fs  %s", time.Since(w.start).Seconds(), fmt.Sprintf(format, args...))
	if !w.live {
		fmt.Fprintln(w.out, l)
		return
	}
	w.recent = append(w.recent, l)
	if len(w.recent) > logLines {
		w.recent = w.recent[len(w.recent)-logLines:]
	}
}

// startBoard redraws the train at most every redrawEvery while live; the
// returned func stops it and waits for it.
func (w *writer) startBoard(ctx context.Context, eng *engine.Router, key train.Key) func() {
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
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				w.redraw(ctx, eng, key)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		w.redraw(context.WithoutCancel(ctx), eng, key)
		w.mu.Lock()
		w.live = false
		w.mu.Unlock()
	}
}

func (w *writer) redraw(ctx context.Context, eng *engine.Router, key train.Key) {
	t, err := eng.Train(ctx, key)
	var b strings.Builder
	b.WriteString(clearScreen)
	fmt.Fprintf(&b, "Merge train %s  (%.1fs)\n\n", key, time.Since(w.start).Seconds())
	fmt.Fprintf(&b, "  %-5s %-10s %-9s %-10s %s\n", "MR", "STATE", "PIPELINE", "COMMIT", "TITLE")
	if err == nil {
		for _, c := range t.Cars {
			fmt.Fprintf(&b, "  %-5s %-10s %-9s %-10.8s %s\n", w.ref(c.MR), c.State, w.pipelineLabel(c.Pipeline), c.Commit, c.Title)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	b.WriteString("\n")
	for _, l := range w.recent {
		b.WriteString(l + "\n")
	}
	io.WriteString(w.out, b.String())
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
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.out, "\n%d merged, %d evicted, %d pipelines, main at %.12s, in %.1fs:\n", s.Merged, s.Evicted, s.Pipelines, s.Head, s.Elapsed.Seconds())
	for _, m := range s.MRs {
		fmt.Fprintf(w.out, "  %-4s %-8s %s\n", w.ref(m.MR), m.State, w.k.reason(m.Reason))
	}
}
func (w *writer) trace(titles map[int64]string) engine.Trace {
	return engine.Trace{
		Observed: func(_ train.Key, obs train.Observation, t train.Train) {
			switch o := obs.(type) {
			case train.Added:
				if i := t.Index(o.MR); i >= 0 {
					w.line("%s joins the train at position %d: %s", w.ref(o.MR), i+1, titles[o.MR])
				}
			case train.Built:
				switch {
				case len(o.Conflict) > 0:
					w.line("%s does not apply: conflict in %s", w.ref(o.MR), strings.Join(o.Conflict, ", "))
				case o.Commit != "":
					w.line("%s merged speculatively onto %.8s as %.8s", w.ref(o.MR), o.Base, o.Commit)
				}
			case train.PipelineCreated:
				w.line("%s: testing %.8s for %s", w.k.pipe(o.Pipeline), o.SHA, w.ref(o.MR))
			case train.PipelineStatus:
				if o.Status.Done() && w.firstEnd(o.Pipeline) {
					w.line("%s: %s", w.k.pipe(o.Pipeline), o.Status)
				}
			}
		},
		Acted: func(_ train.Key, a train.Action) {
			switch a := a.(type) {
			case train.FastForwardTarget:
				w.line("main moves %.8s -> %.8s, merging %s", a.Expected, a.To, w.mrList(a.MRs))
			case train.CancelPipeline:
				w.line("%s cancelled: what it tested is out of date", w.k.pipe(a.Pipeline))
			case train.Record:
				if a.Car.State == train.StateEvicted {
					w.line("%s leaves the train: %s", w.ref(a.Car.MR), w.k.reason(a.Car.Reason.Why()))
				}
			}
		},
	}
}

// firstEnd reports whether the end of pipeline id is told for the first
// time.
func (w *writer) firstEnd(id int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.told[id] {
		return false
	}
	w.told[id] = true
	return true
}

func (w *writer) mrList(mrs []int64) string {
	parts := make([]string, len(mrs))
	for i, m := range mrs {
		parts[i] = w.ref(m)
	}
	return strings.Join(parts, " ")
}
