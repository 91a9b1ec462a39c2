package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// These tests run several `trainyard serve` replicas behind one webhook
// address against a Redis that fails over (a Cluster, or a master watched
// by Sentinels), kill the Redis master that holds the train in the middle
// of a run and kill replicas around it, and check that the run ends as a
// calm one would.

// TestServeReplicasSurviveClusterFailover runs three replicas on a
// six-node Redis Cluster and kills the master of the train's slot once
// some MRs have merged, and replicas five times over the run.
func TestServeReplicasSurviveClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six redis-servers and three serve processes, and waits for a failover")
	}
	t.Parallel()
	nodes := redistest.ClusterN(t, 3, 1) // before the rig: it outlives serve
	// Every node is a seed, and stays one in the restarted replicas'
	// configuration once its master is dead, as in a deployed one.
	r := newFailoverRig(t, "TRAINYARD_REDIS_ADDRS="+strings.Join(nodes.Addrs(), ","))
	// The event stream, and with it the delivery marks and dead letters,
	// goes on the train's master too: the one kill then takes everything
	// a train's run needs.
	r.prefix = sharingMaster(r.ctx, t, nodes, r.prefix)
	rdb := nodes.Client()
	r.runFailover(failover{
		replicas: 3, kills: 5, rdb: rdb,
		master: func(ctx context.Context) (string, error) { return nodes.MasterOf(ctx, trainKey(r.prefix)) },
		killMaster: func(ctx context.Context, master string) (string, error) {
			if err := quiesce(ctx, master, nodes.WaitReplicated); err != nil {
				return "", err
			}
			promoted, err := nodes.KillMasterOf(ctx, trainKey(r.prefix))
			if err != nil {
				return "", err
			}
			// The test's own client; serve must find the new master by
			// itself.
			return promoted, nodes.Refresh(ctx, rdb)
		},
	})
}

// TestServeReplicasSurviveSentinelFailover runs three replicas on a master
// and its replica watched by three Sentinels, and kills the master once
// some MRs have merged, and replicas three times over the run.
func TestServeReplicasSurviveSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five redis-servers and three serve processes, and waits for a failover")
	}
	t.Parallel()
	set := redistest.Sentinel(t) // before the rig: it outlives serve
	r := newFailoverRig(t, "TRAINYARD_REDIS_ADDRS="+strings.Join(set.SentinelAddrs(), ","),
		"TRAINYARD_REDIS_MASTER_NAME="+set.MasterName())
	r.runFailover(failover{
		replicas: 3, kills: 3, rdb: set.Client(),
		master: func(context.Context) (string, error) { return set.MasterAddr(), nil },
		killMaster: func(ctx context.Context, master string) (string, error) {
			if err := quiesce(ctx, master, set.WaitReplicated); err != nil {
				return "", err
			}
			return set.KillMaster(ctx)
		},
	})
}

// newFailoverRig is newRig with serve's Redis given as redisEnv
// (TRAINYARD_REDIS_ADDRS and so on) instead of the rig's single server,
// which stays unused. The empty URL the rig's configuration then writes
// counts as unset, which is what lets the addresses in.
func newFailoverRig(t *testing.T, redisEnv ...string) *rig {
	t.Helper()
	r := newRig(t, fakeforge.CI{Duration: 300 * time.Millisecond})
	r.redis = ""
	r.env = append(r.env, redisEnv...)
	return r
}

// failover is what differs between the Redis setups of runFailover.
type failover struct {
	replicas int
	// kills is how many times a replica is killed over the run, at least
	// two: one before the Redis master dies and one while it fails over.
	kills int
	// rdb is the test's own client of the Redis serve uses.
	rdb redis.UniversalClient
	// master is the address of the Redis master that holds the train.
	master func(ctx context.Context) (string, error)
	// killMaster kills master, the Redis master that holds the train,
	// with every write it acknowledged replicated, and returns once a
	// replica took over; it returns the new master's address.
	killMaster func(ctx context.Context, master string) (string, error)
}

// The train's MRs: 14, of which the 3rd, 8th and 13th are broken, added
// by comment in three waves.
const failoverMRs = 14

var failoverWaves = [][2]int{{0, 5}, {5, 9}, {9, failoverMRs}}

func failoverBroken(i int) bool { return i%5 == 2 }

// runFailover runs f.replicas serve processes behind one webhook address,
// opens the MRs and adds them in waves, and meanwhile kills the Redis
// master of the train once some MRs have merged and kills replicas
// f.kills times, restarting each on its address at once. One replica dies
// with the Redis master, as when the machine under both fails, and comes
// back while Redis fails over. The outcome must be that of a calm run:
// every good MR merged and every broken one evicted with its reason, each
// told once and merged at most once, every move of main tested, no event
// given up on, and no replica gone by itself.
func (r *rig) runFailover(f failover) {
	t := r.t
	start := time.Now()
	st := store.New(f.rdb, store.Options{Prefix: r.prefix})
	key := train.Key{Forge: r.forge, Project: e2eProject, Branch: "main"}
	t.Cleanup(func() { r.dumpFailover(st, key) }) // runs before stopAll
	reps := &replicaSet{r: r}
	for range f.replicas {
		reps.start(freeAddr(t))
	}
	r.hookTo(frontDoor(t, reps.addrs()), 0)
	var mrs, good, broken []int64
	want := []string{"README.md"}
	for i := range failoverMRs {
		mr := r.openMR(i+1, failoverBroken(i))
		mrs = append(mrs, mr)
		if failoverBroken(i) {
			broken = append(broken, mr)
		} else {
			good = append(good, mr)
			want = append(want, fmt.Sprintf("mr-%d.txt", i+1))
		}
	}
	add := func(wave int) {
		for _, mr := range mrs[failoverWaves[wave][0]:failoverWaves[wave][1]] {
			r.note(mr, "alice", "/train add")
		}
	}
	rng := rand.New(rand.NewPCG(7, uint64(f.replicas)))
	pause := func() { time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond) }
	t.Logf("%d replicas up after %s", f.replicas, since(start))

	add(0)
	r.waitFor("some MRs to merge", time.Minute, func() bool {
		return slices.ContainsFunc(good, func(mr int64) bool { return r.state(mr) == "merged" })
	})
	t.Logf("first merge after %s", since(start))
	reps.restart(0)
	add(1)
	if n, err := f.rdb.Exists(r.ctx, trainKey(r.prefix)).Result(); err != nil || n != 1 {
		t.Fatalf("the train's record %s: exists %d, %v; the test would kill the wrong master", trainKey(r.prefix), n, err)
	}
	master, err := f.master(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		promoted string
		err      error
	}
	killed := make(chan outcome, 1)
	failStart := time.Now()
	go func() {
		promoted, err := f.killMaster(r.ctx, master)
		killed <- outcome{promoted, err}
	}()
	r.waitFor("the Redis master to die", 30*time.Second, func() bool { return refuses(master) || len(killed) > 0 })
	reps.restart(1 % f.replicas)
	t.Logf("a replica died with the Redis master and was back, failover still on: %v", len(killed) == 0)
	o := <-killed
	if o.err != nil {
		t.Fatalf("kill the Redis master: %v", o.err)
	}
	t.Logf("Redis master %s killed, %s took over in %s", master, o.promoted, since(failStart))
	add(2)
	for reps.kills < f.kills {
		pause()
		reps.restart((reps.kills + 1) % f.replicas)
	}
	t.Logf("%d replica kills and the master's done after %s", reps.kills, since(start))

	r.waitFor("the train to finish", 3*time.Minute, func() bool { return r.settled(good, broken) })
	t.Logf("train finished after %s", since(start))
	r.checkOnce(good, broken)
	slices.Sort(want)
	if got := strings.Fields(r.git("ls-tree", "--name-only", "main")); !slices.Equal(got, want) {
		t.Errorf("main holds %v, want %v", got, want)
	}
	r.checkPipelines()
	r.checkNoDeadLetters(st)
	reps.checkUp()
	t.Logf("checked after %s", since(start))
}

// replicaSet is the serve replicas behind the front door.
type replicaSet struct {
	r     *rig
	procs []*serveProc
	kills int
}

func (s *replicaSet) start(addr string) {
	s.procs = append(s.procs, s.r.serve(addr))
}

func (s *replicaSet) addrs() []string {
	var addrs []string
	for _, p := range s.procs {
		addrs = append(addrs, p.addr)
	}
	return addrs
}

// restart kills replica i with SIGKILL and starts serve again on its
// address with an empty data directory, as a rescheduled pod would be.
// A replica that exited by itself before is an error, and is started
// again all the same, as its supervisor would, so the run goes on.
func (s *replicaSet) restart(i int) {
	s.r.t.Helper()
	p := s.procs[i]
	_ = p.cmd.Process.Signal(syscall.SIGKILL) // fails if it is gone already
	if err := <-p.done; !killed(err) {
		s.exited(p, err)
	}
	s.kills++
	s.procs[i] = s.r.serve(p.addr)
}

// checkUp checks that no replica exited by itself since it last started.
func (s *replicaSet) checkUp() {
	s.r.t.Helper()
	for _, p := range s.procs {
		select {
		case err := <-p.done:
			s.exited(p, err)
		default:
		}
	}
}

func (s *replicaSet) exited(p *serveProc, err error) {
	s.r.t.Helper()
	s.r.t.Errorf("serve %s exited by itself (%v); its log ends:\n%s", p.addr, err, tail(p.stderr.String(), 1500))
}

// killed reports whether a process ended with err was killed by SIGKILL.
func killed(err error) bool {
	ee, ok := errors.AsType[*exec.ExitError](err)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// refuses reports whether nothing listens on addr.
func refuses(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// checkOnce checks that each MR was added once, and told once that it
// merged or left; that no command was taken twice; and that each good MR
// merged into main exactly once and no broken one did.
func (r *rig) checkOnce(good, broken []int64) {
	r.t.Helper()
	log := r.git("log", "--format=%B", r.base+"..main")
	for _, mr := range append(slices.Clone(good), broken...) {
		isGood := slices.Contains(good, mr)
		counts := map[string]int{
			"Added to the merge train for `main`":     1,
			"already on the merge train":              0,
			"Retrying:":                               0,
			"Merged into `main`":                      b2i(isGood),
			"Removed from the merge train for `main`": b2i(!isGood),
			// Kills and failovers never leave an MR two status comments.
			"<!-- trainyard:status ": 1,
		}
		for marker, want := range counts {
			n := r.countNotes(mr, marker)
			if strings.HasPrefix(marker, "Removed") {
				n = r.evictionNotes(mr)
			}
			if n != want {
				r.t.Errorf("!%d got %d notes with %q, want %d", mr, n, marker, want)
			}
		}
		if n := strings.Count(log, fmt.Sprintf("See merge request %s!%d\n", e2eProject, mr)); n != b2i(isGood) {
			r.t.Errorf("!%d was merged into main %d times, want %d", mr, n, b2i(isGood))
		}
		if isGood {
			continue
		}
		if s := r.state(mr); s != "opened" {
			r.t.Errorf("broken !%d is %s, want opened", mr, s)
		}
		if r.countNotes(mr, "failed") == 0 {
			r.t.Errorf("broken !%d was not told that its pipeline failed", mr)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkNoDeadLetters checks that no event was given up on.
func (r *rig) checkNoDeadLetters(st *store.Store) {
	r.t.Helper()
	n, err := st.DeadLetterCount(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	if n == 0 {
		return
	}
	r.t.Errorf("%d events in the dead letters, want none", n)
	dead, err := st.DeadLetters(r.ctx, 20)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, d := range dead {
		r.t.Logf("dead letter %s (entry %s, %d deliveries): %s\n    %s", d.ID, d.Entry, d.Deliveries, d.Reason, tail(string(d.Data), 300))
	}
}

// dumpFailover logs the train as Redis holds it when the test failed:
// stopAll cannot, having no single server to read.
func (r *rig) dumpFailover(st *store.Store, key train.Key) {
	if !r.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tr, err := st.Load(ctx, key)
	if err != nil {
		r.t.Logf("load the train: %v", err)
		return
	}
	r.t.Logf("train v%d: pending %+v, head %.12s, outbox %d", tr.Version, tr.Pending, tr.TargetHead, len(tr.Outbox))
	for _, c := range tr.Cars {
		r.t.Logf("  !%d %s base %.8s commit %.8s pipeline %d", c.MR, c.State, c.Base, c.Commit, c.Pipeline)
	}
	if n, err := st.DeadLetterCount(ctx); err == nil {
		r.t.Logf("%d dead letters", n)
	}
	if ps, err := r.ff.Pipelines(e2eProject); err == nil {
		for _, p := range ps {
			r.t.Logf("pipeline #%d on %s at %.12s: %s, created %s", p.ID, p.Ref, p.SHA, p.Status, p.CreatedAt.Format("15:04:05.000"))
		}
	}
}

// trainKey is the Redis key of e2eProject's train for main under prefix,
// as the store names it (see internal/store's slot test): the hash tag
// puts every key of the train in one slot.
func trainKey(prefix string) string {
	return prefix + ":{gitlab:" + e2eProject + ":main}:train"
}

// sharingMaster returns base with a suffix that puts the event stream
// (prefix:events, untagged) on the master of the train's slot.
func sharingMaster(ctx context.Context, t *testing.T, nodes *redistest.ClusterNodes, base string) string {
	t.Helper()
	want, err := nodes.MasterOf(ctx, trainKey(base))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		p := fmt.Sprintf("%s-%d", base, i)
		got, err := nodes.MasterOf(ctx, p+":events")
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			return p
		}
	}
	t.Fatalf("no prefix puts the event stream on %s", want)
	return ""
}

// quiesce holds the writes of the master at addr, then waits until its
// replicas have everything it wrote (wait), so that killing it loses
// nothing it acknowledged. Redis replicates asynchronously: a write
// acknowledged in the moment before the kill may never reach the replica
// that takes over, and then the train forgets a step it took and takes it
// again (a second note, say). That is Redis's promise, not one serve can
// keep; the test checks the failover itself. The writes held fail with
// the connection when the master dies, unacknowledged.
func quiesce(ctx context.Context, addr string, wait func(context.Context) error) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	if err := c.Do(ctx, "CLIENT", "PAUSE", 10000, "WRITE").Err(); err != nil {
		return fmt.Errorf("pause writes on %s: %w", addr, err)
	}
	return wait(ctx)
}

// frontDoor stands for the load balancer in front of the replicas: it
// passes each webhook to the next replica in turn, and to the one after
// when a replica does not take it (killed, or not up again yet), as a
// proxy with passive health checks does. It returns its host:port.
func frontDoor(t *testing.T, addrs []string) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{}}
	var next atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		first := int(next.Add(1))
		var errs []string
		for i := range addrs {
			addr := addrs[(first+i)%len(addrs)]
			out, err := http.NewRequestWithContext(req.Context(), req.Method, "http://"+addr+req.URL.RequestURI(), bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			out.Header = req.Header.Clone()
			resp, err := client.Do(out)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			defer resp.Body.Close()
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
			return
		}
		http.Error(w, strings.Join(errs, "; "), http.StatusBadGateway)
	}))
	t.Cleanup(func() {
		srv.Close()
		client.CloseIdleConnections()
	})
	return srv.Listener.Addr().String()
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
