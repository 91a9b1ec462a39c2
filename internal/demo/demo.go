// Package demo runs the whole merge train on one machine with nothing to
// set up: an embedded Redis, the fake GitLab with a project and a handful of
// merge requests (some broken, some conflicting), simulated CI, real git and
// the real engine, and tells what happens as it happens.
package demo

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// Options shape a demo run.
type Options struct {
	MRs          int
	FailRate     float64 // fraction of MRs whose tests fail
	ConflictRate float64 // fraction of MRs that edit the same lines as an earlier one
	MaxParallel  int
	CIDuration   time.Duration
	Seed         uint64
	// Dir keeps the forge's repositories and pipeline log; a temporary
	// directory, removed afterwards, when empty.
	Dir string
}

// Defaults: a seed whose draw shows one broken and one conflicting MR.
func Defaults() Options {
	return Options{MRs: 8, FailRate: 0.15, ConflictRate: 0.15, MaxParallel: 4, CIDuration: 400 * time.Millisecond, Seed: 5}
}

// Outcome is one MR's fate.
type Outcome struct {
	MR          int64
	Title       string
	Broken      bool
	Conflicting bool
	State       train.State
	Reason      string
}

// Summary is what a run ended with.
type Summary struct {
	MRs       []Outcome
	Merged    int
	Evicted   int
	Pipelines int
	Head      string
	Elapsed   time.Duration
}

const (
	project  = "demo/app"
	botToken = "demo-bot-token"
)

// spec is one MR to open.
type spec struct {
	title       string
	files       map[string]string
	broken      bool
	conflicting bool
}

// plan draws the MRs from the seed.
func plan(o Options) []spec {
	rng := rand.New(rand.NewPCG(o.Seed, 0xde70))
	var specs []spec
	for i := 1; i <= o.MRs; i++ {
		s := spec{title: fmt.Sprintf("Add feature %d", i), files: map[string]string{
			fmt.Sprintf("features/feature-%d.txt", i): fmt.Sprintf("feature %d\n", i),
		}}
		if rng.Float64() < o.FailRate {
			s.broken = true
			s.title = fmt.Sprintf("Add feature %d (its tests fail)", i)
			s.files[fmt.Sprintf("features/feature-%d/BROKEN", i)] = "a test that fails\n"
		}
		if conflict := rng.Float64() < o.ConflictRate; conflict && i > 1 && !s.broken {
			s.conflicting = true
			s.title = fmt.Sprintf("Add feature %d (edits the same line as others)", i)
			s.files["VERSION"] = fmt.Sprintf("1.%d\n", i)
			// The MR ahead that it clashes with edits the line too.
			specs[i-2].files["VERSION"] = fmt.Sprintf("1.%d-pre\n", i-1)
		}
		specs = append(specs, s)
	}
	return specs
}

// Run runs the demo and writes what happens to out.
func Run(ctx context.Context, o Options, out io.Writer) (Summary, error) {
	start := time.Now()
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "trainyard-demo-")
		if err != nil {
			return Summary{}, fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	mr, err := miniredis.Run()
	if err != nil {
		return Summary{}, fmt.Errorf("demo: embedded redis: %w", err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	st := store.New(rdb, store.Options{})

	ff, err := fakeforge.New(fakeforge.Options{
		Dir: filepath.Join(dir, "forge"), Tokens: map[string]string{botToken: "trainyard-bot"},
		CI: fakeforge.CI{Duration: o.CIDuration}, Seed: o.Seed,
	})
	if err != nil {
		return Summary{}, fmt.Errorf("demo: forge: %w", err)
	}
	if err := ff.Start(ctx); err != nil {
		return Summary{}, fmt.Errorf("demo: forge: %w", err)
	}
	defer ff.Close()

	specs := plan(o)
	w := &writer{out: out, start: start}
	w.line("A merge train for %s on a local GitLab-compatible forge: %d merge requests, %d cars tested at once.", project, len(specs), o.MaxParallel)
	if _, err := ff.CreateProject(ctx, project, map[string]string{"README.md": "# demo app\n", "VERSION": "1.0\n"}); err != nil {
		return Summary{}, fmt.Errorf("demo: project: %w", err)
	}
	dev := ff.AddUser("dev")
	if err := ff.SetAccess(project, "dev", 30); err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	titles := map[int64]string{}
	var iids []int64
	for i, s := range specs {
		m, err := ff.CreateMR(ctx, project, fakeforge.MRSpec{Source: fmt.Sprintf("feature-%d", i+1), Title: s.title, Author: "dev",
			Commits: []fakeforge.Commit{{Message: s.title, Files: s.files}}})
		if err != nil {
			return Summary{}, fmt.Errorf("demo: open MR %d: %w", i+1, err)
		}
		titles[m.IID] = s.title
		iids = append(iids, m.IID)
	}

	client, err := gitlab.New(gitlab.Options{BaseURL: ff.URL(), Token: botToken})
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	repos := &engine.GitRepos{Dir: filepath.Join(dir, "mirrors"), Token: botToken, CloneURL: client.CloneURL,
		Identity: gitops.Identity{Name: "Trainyard", Email: "trainyard@localhost"}}
	eng := engine.New(engine.Config{Owner: "demo", Settings: train.Settings{MaxParallel: o.MaxParallel}}, st, client, repos,
		engine.WithTrace(w.trace(titles)))
	key := train.Key{Forge: "gitlab", Project: project, Branch: "main"}
	for _, iid := range iids {
		if err := eng.Add(ctx, engine.Request{Forge: "gitlab", Project: project, MR: iid, UserID: dev.ID, Username: dev.Username,
			Event: fmt.Sprintf("demo-add-%d", iid)}); err != nil {
			return Summary{}, fmt.Errorf("demo: add !%d: %w", iid, err)
		}
	}
	if err := eng.RunUntilIdle(ctx, key, 50*time.Millisecond); err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	return summarize(ctx, st, ff, key, specs, iids, start)
}

func summarize(ctx context.Context, st *store.Store, ff *fakeforge.Forge, key train.Key, specs []spec, iids []int64, start time.Time) (Summary, error) {
	hist, err := st.History(ctx, key, int64(len(iids))*4)
	if err != nil {
		return Summary{}, fmt.Errorf("demo: history: %w", err)
	}
	last := map[int64]train.Car{}
	for i := len(hist) - 1; i >= 0; i-- {
		last[hist[i].MR] = hist[i]
	}
	s := Summary{Elapsed: time.Since(start)}
	for i, iid := range iids {
		o := Outcome{MR: iid, Title: specs[i].title, Broken: specs[i].broken, Conflicting: specs[i].conflicting}
		if c, ok := last[iid]; ok {
			o.State = c.State
			if c.Reason != nil {
				o.Reason = c.Reason.Message
			}
		}
		switch o.State {
		case train.StateMerged:
			s.Merged++
		case train.StateEvicted:
			s.Evicted++
		}
		s.MRs = append(s.MRs, o)
	}
	ps, err := ff.Pipelines(project)
	if err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	s.Pipelines = len(ps)
	if s.Head, err = ff.BranchHead(ctx, project, "main"); err != nil {
		return Summary{}, fmt.Errorf("demo: %w", err)
	}
	return s, nil
}

// writer prints one line per event, stamped with the time since start.
type writer struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
}

func (w *writer) line(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.out, "%6.1fs  %s\n", time.Since(w.start).Seconds(), fmt.Sprintf(format, args...))
}

func (w *writer) trace(titles map[int64]string) engine.Trace {
	return engine.Trace{
		Observed: func(_ train.Key, obs train.Observation, t train.Train) {
			switch o := obs.(type) {
			case train.Added:
				if i := t.Index(o.MR); i >= 0 {
					w.line("!%d joins the train at position %d: %s", o.MR, i+1, titles[o.MR])
				}
			case train.Built:
				switch {
				case len(o.Conflict) > 0:
					w.line("!%d does not apply: conflict in %s", o.MR, strings.Join(o.Conflict, ", "))
				case o.Commit != "":
					w.line("!%d merged speculatively onto %.8s as %.8s", o.MR, o.Base, o.Commit)
				}
			case train.PipelineCreated:
				w.line("pipeline #%d tests %.8s for !%d", o.Pipeline, o.SHA, o.MR)
			case train.PipelineStatus:
				if o.Status.Done() {
					w.line("pipeline #%d %s", o.Pipeline, o.Status)
				}
			}
		},
		Acted: func(_ train.Key, a train.Action) {
			switch a := a.(type) {
			case train.FastForwardTarget:
				w.line("main moves %.8s -> %.8s, merging %s", a.Expected, a.To, mrList(a.MRs))
			case train.CancelPipeline:
				w.line("pipeline #%d cancelled: what it tested is out of date", a.Pipeline)
			case train.Record:
				if a.Car.State == train.StateEvicted {
					w.line("!%d leaves the train: %s", a.Car.MR, a.Car.Reason.Message)
				}
			}
		},
	}
}

func mrList(mrs []int64) string {
	parts := make([]string, len(mrs))
	for i, m := range mrs {
		parts[i] = fmt.Sprintf("!%d", m)
	}
	return strings.Join(parts, " ")
}
