package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/train"
)

// A car added before its project had lanes gets them at the next sweep of
// a replica that has them, gets them again when the lanes change, and
// loses them when the lanes are gone.
func TestSweepReadsTheLanesOfCarsThatLackThem(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	api := e.mr(1, map[string]string{"services/api/x.go": "package api\n"})
	web := e.mr(2, map[string]string{"web/app.js": "1;\n"})
	e.addAll(api, web)
	lanesOf := func() map[int64][]string {
		t.Helper()
		tr, err := e.eng.Train(e.ctx, e.key)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64][]string{}
		for _, c := range tr.Cars {
			out[c.MR] = c.Lanes
		}
		return out
	}
	if got := lanesOf(); len(got) != 2 || got[api] != nil || got[web] != nil {
		t.Fatalf("lanes before the project had any: %v", got)
	}

	// Each MR also adds its own mr-N.txt.
	settings := train.Settings{Lanes: []train.Lane{{Name: "api", Paths: []string{"services/api/**", "mr-1.txt"}}, {Name: "web", Paths: []string{"web/", "mr-2.txt"}}}}
	withLanes := e.replica("lanes", settings)
	if err := withLanes.Sweep(e.ctx, e.key); err != nil {
		t.Fatal(err)
	}
	tr, err := withLanes.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range tr.Cars {
		want := map[int64][]string{api: {"api"}, web: {"web"}}[c.MR]
		if !slices.Equal(c.Lanes, want) {
			t.Errorf("!%d's lanes after the sweep: %v, want %v", c.MR, c.Lanes, want)
		}
	}

	// The same lanes with other paths: read again.
	settings.Lanes = slices.Clone(settings.Lanes)
	settings.Lanes[0].Paths = append(slices.Clone(settings.Lanes[0].Paths), "mr-2.txt")
	moved := e.replica("moved", settings)
	if err := moved.Sweep(e.ctx, e.key); err != nil {
		t.Fatal(err)
	}
	if got := lanesOf(); !slices.Equal(got[api], []string{"api"}) || !slices.Equal(got[web], []string{"api", "web"}) {
		t.Fatalf("lanes after their paths changed: %v", got)
	}

	// Back on a replica without lanes: the cars show none.
	if err := e.eng.Sweep(e.ctx, e.key); err != nil {
		t.Fatal(err)
	}
	if got := lanesOf(); got[api] != nil || got[web] != nil {
		t.Fatalf("lanes after they were dropped: %v", got)
	}
}

// Lane trains driven by sweeps alone (no workers to wake a train that
// another handed work): the lanes' trains take their MRs from their
// inboxes, a broken MR is evicted by its lane, named in its note, and
// the other lane's MR merges.
func TestLaneTrainsRunOnSweepsAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{settings: train.Settings{LaneTrains: true,
		// Each MR also adds its own mr-N.txt.
		Lanes: []train.Lane{{Name: "api", Paths: []string{"services/api/**", "mr-1.txt"}}, {Name: "web", Paths: []string{"web/**", "mr-2.txt"}}}}})
	broken := e.mr(1, map[string]string{"services/api/BROKEN": "fails\n"})
	web := e.mr(2, map[string]string{"web/app.js": "1;\n"})
	e.addAll(broken, web)
	tr, err := e.eng.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Cars) != 0 || len(tr.InLanes) != 2 {
		t.Fatalf("cars %+v, in lanes %+v: want both MRs in their lanes", tr.Cars, tr.InLanes)
	}
	sw := &engine.Sweeper{Store: e.st, Sweep: e.eng.Sweep, Log: zaptest.NewLogger(t)}
	// Once a lane's train holds it, an MR added again is told where it
	// is: on main's train, in its lanes (not on another train).
	sw.Pass(e.ctx)
	if err := e.add(web, "bob"); err != nil {
		t.Fatal(err)
	}
	e.requireNote(web, "This merge request is already on the merge train for `main`, being tested in its lanes (`web`).")
	for !(e.mrState(web).State == "merged" && slices.ContainsFunc(e.notesOf(broken), func(n string) bool {
		return strings.HasPrefix(n, "Removed from the merge train for `main`: in lane `api`: ")
	})) {
		if e.ctx.Err() != nil {
			t.Fatalf("not settled: !%d %s, notes of !%d %q", web, e.mrState(web).State, broken, e.notesOf(broken))
		}
		sw.Pass(e.ctx)
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(e.git("ls-tree", "-r", "--name-only", "main"), "BROKEN") {
		t.Error("main holds the broken MR's change")
	}
	for _, lane := range []string{"api", "web"} {
		if h := e.git("rev-parse", "trainyard-lanes/main/"+lane); h == "" {
			t.Errorf("no branch for lane %s", lane)
		}
	}
}

// A lane's train retired when idle takes its branch with it; the next MR
// of the lane makes both again, at the target's head.
func TestARetiredLaneTakesItsBranch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{settings: train.Settings{LaneTrains: true,
		Lanes: []train.Lane{{Name: "web", Paths: []string{"web/**", "mr-*.txt"}}}}})
	first := e.mr(1, map[string]string{"web/a.js": "1;\n"})
	e.addAll(first)
	sw := &engine.Sweeper{Store: e.st, Sweep: e.eng.Sweep, Retire: e.eng.Retire, Log: zaptest.NewLogger(t)}
	for e.mrState(first).State != "merged" {
		if e.ctx.Err() != nil {
			t.Fatalf("!%d not merged", first)
		}
		sw.Pass(e.ctx)
		time.Sleep(20 * time.Millisecond)
	}
	lane := e.key
	lane.Branch = "trainyard-lanes/main/web"
	if e.git("for-each-ref", "refs/heads/"+lane.Branch) == "" {
		t.Fatal("no lane branch while its train is there")
	}
	e.idleLongEnough(lane)
	if ok, err := e.eng.Retire(e.ctx, lane); err != nil || !ok {
		t.Fatalf("retire the lane's train: %v, %v", ok, err)
	}
	if got := e.git("for-each-ref", "refs/heads/"+lane.Branch); got != "" {
		t.Fatalf("the retired lane's branch is still there: %s", got)
	}
	second := e.mr(2, map[string]string{"web/b.js": "2;\n"})
	e.addAll(second)
	for e.mrState(second).State != "merged" {
		if e.ctx.Err() != nil {
			t.Fatalf("!%d not merged", second)
		}
		sw.Pass(e.ctx)
		time.Sleep(20 * time.Millisecond)
	}
}

// An MR that passed its lane and then left the target's train unmerged
// is on the lane's branch: the lane's train sets its branch back to the
// target's head at once, though it is busy, and builds its cars again
// there, so no later MR of the lane is tested with the one that left.
func TestALaneLetsGoOfAnMRTheTargetLetGo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}, settings: train.Settings{LaneTrains: true,
		Lanes: []train.Lane{{Name: "api", Paths: []string{"services/api/**", "mr-*.txt"}}}}})
	const laneBranch = "trainyard-lanes/main/api"
	sw := &engine.Sweeper{Store: e.st, Sweep: e.eng.Sweep, Log: zaptest.NewLogger(t)}
	// pipelineOf sweeps until a pipeline of ref exists that is not one
	// of not, and returns it.
	pipelineOf := func(ref string, not ...int64) fakeforge.Pipeline {
		t.Helper()
		for {
			ps, err := e.ff.Pipelines(project)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.Ref == ref && !slices.Contains(not, p.ID) {
					return p
				}
			}
			if e.ctx.Err() != nil {
				t.Fatalf("no pipeline of %s besides %v among %+v", ref, not, ps)
			}
			sw.Pass(e.ctx)
			time.Sleep(10 * time.Millisecond)
		}
	}
	finish := func(p fakeforge.Pipeline) {
		t.Helper()
		if err := e.ff.FinishPipeline(e.ctx, p.ID, fakeforge.PipelineSuccess); err != nil {
			t.Fatal(err)
		}
	}
	carries := func(rev, file string) bool {
		return slices.Contains(strings.Fields(e.git("ls-tree", "-r", "--name-only", rev)), file)
	}

	// Both in the lane at once: !2's car is built on !1's, and runs on
	// after !1 passed and moved the lane's branch.
	left := e.mr(1, map[string]string{"services/api/a.go": "package api\n"})
	next := e.mr(2, map[string]string{"services/api/b.go": "package api\n"})
	e.addAll(left, next)
	laneRef := func(mr int64) string { return fmt.Sprintf("trainyard/%s/%d", laneBranch, mr) }
	passed := pipelineOf(laneRef(left))
	first := pipelineOf(laneRef(next))
	finish(passed)
	onTarget := pipelineOf(fmt.Sprintf("trainyard/main/%d", left))
	if got := e.git("rev-parse", laneBranch); got != passed.SHA {
		t.Fatalf("the lane's branch is at %.12s, want !%d's lane commit %.12s", got, left, passed.SHA)
	}
	if !carries(first.SHA, "mr-1.txt") || e.pipelineStatus(first.ID) != fakeforge.PipelineRunning {
		t.Fatalf("!%d's lane pipeline %d: want it running on !%d's commit", next, first.ID, left)
	}

	u := e.users["alice"]
	if err := e.eng.Remove(e.ctx, engine.Request{Forge: e.key.Forge, Project: project, MR: left, UserID: u.ID, Username: u.Username, Event: "remove-1"}); err != nil {
		t.Fatal(err)
	}
	again := pipelineOf(fmt.Sprintf("trainyard/%s/%d", laneBranch, next), first.ID)
	if got, want := e.git("rev-parse", laneBranch), e.head(); got != want {
		t.Fatalf("the lane's branch is at %.12s, want the target's head %.12s", got, want)
	}
	if carries(again.SHA, "mr-1.txt") || !carries(again.SHA, "mr-2.txt") {
		t.Fatalf("!%d's lane commit %.12s still carries !%d, or lacks its own change", next, again.SHA, left)
	}
	e.waitStatus(first.ID, fakeforge.PipelineCanceled)
	e.waitStatus(onTarget.ID, fakeforge.PipelineCanceled)

	finish(again)
	finish(pipelineOf(fmt.Sprintf("trainyard/main/%d", next)))
	for e.mrState(next).State != "merged" {
		if e.ctx.Err() != nil {
			t.Fatalf("!%d not merged", next)
		}
		sw.Pass(e.ctx)
		time.Sleep(10 * time.Millisecond)
	}
	if carries("main", "mr-1.txt") || !carries("main", "mr-2.txt") {
		t.Fatalf("main: %s", e.git("ls-tree", "-r", "--name-only", "main"))
	}
	if st := e.mrState(left).State; st != "opened" {
		t.Fatalf("!%d is %s, want opened", left, st)
	}
}

// An MR whose way to its lane was lost (here the lane's train and the
// work sent to it are gone, as an inbox's items expire) is found missing
// by a sweep of the target's train and sent again: it is tested in its
// lane and merges, where it would otherwise wait in its lanes for good.
func TestAnMRLostOnItsWayToALaneIsSentAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{sweepEvery: 20 * time.Millisecond, settings: train.Settings{LaneTrains: true,
		Lanes: []train.Lane{{Name: "web", Paths: []string{"web/**", "mr-*.txt"}}}}})
	mr := e.mr(1, map[string]string{"web/a.js": "1;\n"})
	e.addAll(mr)
	lane := e.key
	lane.Branch = "trainyard-lanes/main/web"
	if err := e.st.Delete(e.ctx, lane); err != nil {
		t.Fatal(err)
	}
	sw := &engine.Sweeper{Store: e.st, Sweep: e.eng.Sweep, Log: zaptest.NewLogger(t)}
	deadline := time.Now().Add(30 * time.Second)
	for e.mrState(mr).State != "merged" {
		if time.Now().After(deadline) {
			tr, _ := e.eng.Train(e.ctx, e.key)
			t.Fatalf("!%d not merged: in lanes %+v", mr, tr.InLanes)
		}
		sw.Pass(e.ctx)
		time.Sleep(20 * time.Millisecond)
	}
	hist, err := e.st.History(e.ctx, lane, 0)
	if err != nil || len(hist) != 1 || hist[0].MR != mr || hist[0].State != train.StateMerged {
		t.Fatalf("the lane's history %+v, %v: want !%d merged there once", hist, err, mr)
	}
}

// retireHold holds the store's script that deletes an idle lane's train
// (the retire) until the target's train has handed the lane an MR: before
// the script runs, or, with after, once it has deleted the train.
type retireHold struct {
	lane     string
	after    bool
	armed    atomic.Bool
	held     chan struct{} // closed once the retire waits
	handed   chan struct{} // closed once the MR was handed over
	heldOnce sync.Once
}

func (h *retireHold) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *retireHold) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *retireHold) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		// The retire script's keys are the train's hash, its history and
		// its inbox; its last argument is how long the history stays.
		retire := (cmd.Name() == "evalsha" || cmd.Name() == "eval") && len(args) == 8 && fmt.Sprint(args[2]) == "3" &&
			strings.HasSuffix(fmt.Sprint(args[3]), h.lane+"}:train") && strings.HasSuffix(fmt.Sprint(args[5]), ":inbox")
		if !h.armed.Load() || !retire {
			return next(ctx, cmd)
		}
		var err error
		if h.after {
			// Held once the script ran: a first EVALSHA the server does
			// not know yet fails, and is sent again as EVAL.
			if err = next(ctx, cmd); err != nil {
				return err
			}
		}
		h.heldOnce.Do(func() { close(h.held) })
		select {
		case <-h.handed:
		case <-ctx.Done():
		}
		if !h.after {
			err = next(ctx, cmd)
		}
		return err
	}
}

// An MR handed to an idle lane while the lane's train retires is not
// lost with the train. Handed over before the train is deleted, it makes
// the retire give way to the work in the train's inbox; handed over just
// after, it makes the train again, and the retire, which deletes the
// lane's branch last, finds it made again and gives the branch back. The
// MR is tested in its lane and merges.
func TestALaneRetiringAsItIsHandedAnMRKeepsIt(t *testing.T) {
	t.Parallel()
	for _, after := range []bool{false, true} {
		t.Run(fmt.Sprintf("after the delete %v", after), func(t *testing.T) {
			t.Parallel()
			h := &retireHold{lane: "trainyard-lanes/main/web", after: after, held: make(chan struct{}), handed: make(chan struct{})}
			e := newEnv(t, envOptions{redisHook: h, settings: train.Settings{LaneTrains: true,
				Lanes: []train.Lane{{Name: "web", Paths: []string{"web/**", "mr-*.txt"}}}}})
			sw := &engine.Sweeper{Store: e.st, Sweep: e.eng.Sweep, Retire: e.eng.Retire, Log: zaptest.NewLogger(t)}
			merge := func(mr int64) {
				t.Helper()
				for e.mrState(mr).State != "merged" {
					if e.ctx.Err() != nil {
						tr, _ := e.eng.Train(e.ctx, e.key)
						t.Fatalf("!%d not merged: %s; in lanes %+v", mr, e.mrState(mr).State, tr.InLanes)
					}
					sw.Pass(e.ctx)
					time.Sleep(20 * time.Millisecond)
				}
			}
			first := e.mr(1, map[string]string{"web/a.js": "1;\n"})
			e.addAll(first)
			merge(first)
			lane := e.key
			lane.Branch = h.lane
			e.idleLongEnough(lane)
			h.armed.Store(true)
			retired := make(chan bool, 1)
			go func() {
				ok, err := e.eng.Retire(e.ctx, lane)
				if err != nil {
					t.Error(err)
				}
				retired <- ok
			}()
			<-h.held // the retire holds the lease and found no work
			second := e.mr(2, map[string]string{"web/b.js": "2;\n"})
			e.addAll(second)
			close(h.handed)
			if got := <-retired; got != after {
				t.Fatalf("retired %v, want %v", got, after)
			}
			if got, want := e.git("for-each-ref", "--format=%(objectname)", "refs/heads/"+h.lane), e.head(); got != want {
				t.Fatalf("the lane's branch is at %q once the retire is done, want the target's head %s", got, want)
			}
			merge(second)
			if files := e.git("ls-tree", "-r", "--name-only", h.lane); !strings.Contains(files, "mr-2.txt") {
				t.Fatalf("the lane's branch does not carry !%d: %s", second, files)
			}
		})
	}
}

// idleLongEnough makes the train of key idle for longer than a train
// stays before it is retired.
func (e *env) idleLongEnough(key train.Key) {
	e.t.Helper()
	t, err := e.st.Load(e.ctx, key)
	if err != nil {
		e.t.Fatal(err)
	}
	t.IdleSince = time.Now().Add(-train.RetireAfter - time.Hour)
	if _, err := e.st.Save(e.ctx, t); err != nil {
		e.t.Fatal(err)
	}
}
