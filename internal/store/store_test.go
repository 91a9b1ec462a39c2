package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/train"
)

// env is what one test case gets: a store with keys of its own.
type env struct {
	s    *Store
	rdb  redis.UniversalClient
	mini *miniredis.Miniredis // nil on a real server
}

// expire returns once rkey, set with ttl, has expired: miniredis's clock is
// moved, a real server is polled.
func (e *env) expire(t *testing.T, rkey string, ttl time.Duration) {
	t.Helper()
	if e.mini != nil {
		e.mini.FastForward(ttl + time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.rdb.Exists(context.Background(), rkey).Val() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists 5s after its %s ttl", rkey, ttl)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// backend sets up a Redis once per suite run and returns the maker of each
// case's env.
type backend struct {
	name  string
	setup func(t *testing.T) func(t *testing.T, opts Options) *env
}

func backends() []backend {
	return []backend{
		{"redis-server", func(t *testing.T) func(*testing.T, Options) *env {
			rdb := redistest.Client(t)
			return func(t *testing.T, opts Options) *env {
				opts.Prefix = redistest.Prefix(t)
				return &env{s: New(rdb, opts), rdb: rdb}
			}
		}},
		{"redis-cluster", func(t *testing.T) func(*testing.T, Options) *env {
			rdb := redistest.Cluster(t)
			return func(t *testing.T, opts Options) *env {
				opts.Prefix = redistest.Prefix(t)
				return &env{s: New(rdb, opts), rdb: rdb}
			}
		}},
		{"miniredis", func(*testing.T) func(*testing.T, Options) *env {
			return func(t *testing.T, opts Options) *env {
				m, rdb := redistest.MiniServer(t)
				return &env{s: New(rdb, opts), rdb: rdb, mini: m}
			}
		}},
	}
}

type storeCase struct {
	name string
	opts Options
	run  func(t *testing.T, e *env)
}

func storeCases() []storeCase {
	var cases []storeCase
	for _, group := range [][]storeCase{trainCases(), schemaCases(), leaseCases(), eventCases(), historyCases(), deadCases(), commandCases()} {
		cases = append(cases, group...)
	}
	return cases
}

// TestStore runs every case against a real redis-server, a real one-node
// Redis Cluster (which refuses any script or transaction that spans slots)
// and miniredis, so the embedded demo store behaves like production.
func TestStore(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			newEnv := b.setup(t)
			for _, c := range storeCases() {
				t.Run(c.name, func(t *testing.T) { c.run(t, newEnv(t, c.opts)) })
			}
		})
	}
}

var testKey = train.Key{Forge: "gitlab", Project: "group/project", Branch: "main"}

func at(sec int) time.Time { return time.Date(2025, 3, 14, 15, 9, 26+sec, 535897932, time.UTC) }

func sha(n int) string { return fmt.Sprintf("%040x", n) }

// fullCar has every field set, so a lost field shows in a round trip.
func fullCar(mr int64) train.Car {
	return train.Car{
		MR: mr, HeadSHA: sha(int(mr)), Title: fmt.Sprintf("Fix the frobnicator in module %d", mr),
		Source: fmt.Sprintf("feature/fix-%d", mr), AddedBy: "alice", AddedVia: "ci", AddedAt: at(int(mr)),
		Priority: train.PriorityHigh, Method: train.MethodSquash, State: train.StateEvicted,
		DependsOn: []train.Dep{{MR: mr + 100, Label: fmt.Sprintf("!%d", mr+100)}}, Stacked: "feature/base", Lanes: []string{"api", "web"}, LanesOf: "0123456789abcdef", Laned: true,
		Base: sha(1000 + int(mr)), Commit: sha(2000 + int(mr)), Pipeline: 7000 + mr,
		PipelineStartedAt: at(100), PushedAt: at(90), Attempts: 2, Builds: 3, Suspect: 41, Detached: true, Retested: true, LeftAt: at(200),
		Witness: &train.Witness{Pipeline: 7100 + mr, SHA: sha(4000 + int(mr)), Others: 1, Status: train.PipelineFailed, Started: at(150)},
		News:    &train.News{HeadSHA: sha(5000 + int(mr)), Closed: true, Merged: true, Branch: "develop", Rules: "it needs 1 more approval"},
		Trail: []train.Mark{
			// Each field set in one mark, so the round trip covers it.
			{At: at(90), Kind: train.MarkPipeline, Commit: sha(2000 + int(mr)), Base: sha(1000 + int(mr)), Pipeline: 6900 + mr, Status: train.PipelineCanceled,
				Hold: train.HoldWindow, Reason: "outside"},
			{At: at(100), Kind: train.MarkBuilt, Pipeline: 7000 + mr, Commit: sha(2001 + int(mr)), Base: sha(1001 + int(mr)), Status: train.PipelineFailed,
				Hold: train.HoldFreeze, Reason: "the target branch is in a freeze period"},
		},
		Reason: &train.Reason{
			// Spans hold words or a pipeline; both are set here only so
			// the round trip covers each field.
			Code: train.ReasonConflict, Message: train.Text{{Words: "merge conflict in 2 files", Pipeline: 7000 + mr, Passed: true}},
			Detail: train.Text{{Words: "merge conflict", Pipeline: 7001 + mr, Passed: true}}, Pipeline: 7000 + mr,
			Commit: sha(3000 + int(mr)), Base: sha(3500 + int(mr)), Paths: []string{"a.go", "dir/b.go"},
		},
	}
}

// fullTrain has every field set and n cars.
func fullTrain(key train.Key, n int) train.Train {
	t := train.Train{
		Key: key, Paused: true, TargetHead: sha(42), Window: 3, BatchMerged: 5, BatchFailed: 1,
		Frozen:   &train.Hold{Kind: train.HoldFrozen, Reason: "release cut", Until: at(500), By: "carol"},
		Draining: true, Held: train.HoldFrozen,
		Repo: &train.RepoConfig{Commit: sha(42), Data: "method: squash\n", GoodAt: sha(41), Error: "bad", MR: 7},
		Settings: train.Settings{MaxParallel: 5, Retries: 1, PipelineTimeout: time.Hour, Method: train.MethodRebase, EagerEviction: true, BatchSize: 4, MinWindow: 2, MaxBatchSize: 16, BisectParallel: 3, LaneTrains: true,
			Schedule: train.Schedule{
				Freezes: []train.FreezePeriod{{From: at(0), Until: at(60), Reason: "holidays", Spec: "2025-03-14 2025-03-15 UTC holidays"}},
				// A window's zone is loaded from the configuration on every
				// load of a train, never stored.
				Windows: []train.MergeWindow{{Days: 0b0111110, From: 9 * time.Hour, Until: 17 * time.Hour, Spec: "Mon-Fri 09:00-17:00 UTC"}},
				Also:    []train.MergeWindow{{Days: 0b1000001, From: time.Hour, Until: 2 * time.Hour, Spec: "Sat,Sun 01:00-02:00 UTC"}},
			},
			Lanes: []train.Lane{{Name: "api", Paths: []string{"services/api/**"}}, {Name: "web", Paths: []string{"web/", "**/*.css"}}}},
		Pending: &train.FastForward{To: sha(43), Expected: sha(42), MRs: []int64{1, 2}, Planned: at(300), Via: []string{sha(44)}},
		Cars:    make([]train.Car, n),
		Handled: []string{"note-1", "note-2"},
		Strays:  []train.Stray{{MR: 9, Commit: "ab12", Pushed: at(350)}},
		InLanes: []train.LaneCar{{Add: train.Added{MR: 10, HeadSHA: sha(10), Title: "t", Source: "s", By: "dave", Via: "ci", Priority: train.PriorityHigh,
			Method: train.MethodSquash, Event: "note-10", Estimate: time.Minute, DependsOn: []train.Dep{{MR: 1, Label: "!1"}}, Stacked: "base", Lanes: []string{"api"}},
			Lanes: []string{"api", "web"}, Passed: []string{"web"}, Since: at(360)}},
		IdleSince: at(400),
		ResetDue:  true,
		Outbox: train.Actions{
			train.BuildCar{MR: 1, Base: sha(42), HeadSHA: sha(1), Method: train.MethodMerge, Title: "t", Source: "s", Build: 2, At: at(1)},
			train.Notify{Kind: train.NotifyEvicted, Key: "evict-1", Cars: []train.Car{fullCar(9)}, Commit: sha(9), By: "bob", Reason: "why"},
			train.Record{Car: fullCar(8)},
			train.JoinLane{Lane: "api", Add: train.Added{MR: 10, HeadSHA: sha(10), Event: "lane:join:api:note-10"}},
			train.LeaveLane{Lane: "web", MR: 10, Event: "lane:leave:web:note-11"},
			train.ResetLane{Lane: "api", MR: 8},
			train.ResetBranch{},
		},
	}
	for i := range t.Cars {
		t.Cars[i] = fullCar(int64(i + 1))
	}
	return t
}

// TestFullTrainSetsEveryField keeps the round-trip sample complete when the
// train types grow.
func TestFullTrainSetsEveryField(t *testing.T) {
	tr := fullTrain(testKey, 1)
	tr.Version = 1 // owned by the store; set here only for the check
	if path := zeroField(reflect.ValueOf(tr), "Train"); path != "" {
		t.Fatalf("%s is zero in the sample train: set it so round trips cover it", path)
	}
}

// zeroField returns the path of the first zero field under v, or "". It does
// not look into interfaces: the encoding of actions is the train package's.
func zeroField(v reflect.Value, path string) string {
	if v.IsZero() {
		return path
	}
	switch v.Kind() {
	case reflect.Pointer:
		return zeroField(v.Elem(), path)
	case reflect.Slice:
		for i := range v.Len() {
			if p := zeroField(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return ""
		}
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("json") == "-" {
				continue // never stored
			}
			if p := zeroField(v.Field(i), path+"."+v.Type().Field(i).Name); p != "" {
				return p
			}
		}
	}
	return ""
}
