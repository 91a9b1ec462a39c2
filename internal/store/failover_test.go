package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/train"
)

// TestFailoverCluster runs the failover scenario on a six-node Redis
// Cluster (3 masters, 3 replicas) and kills the master of the event
// stream's slot, and with it a third of the trains.
func TestFailoverCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six redis-servers and waits for a failover")
	}
	nodes := redistest.ClusterN(t, 3, 1)
	rdb := nodes.Client()
	e := &env{s: New(rdb, Options{}), rdb: rdb}
	testFailover(t, e, failover{
		sync: nodes.WaitReplicated,
		kill: func(ctx context.Context, trains []train.Key) error {
			victim, err := nodes.MasterOf(ctx, e.s.opts.EventStream)
			if err != nil {
				return err
			}
			var moving int
			for _, k := range trains {
				m, err := nodes.MasterOf(ctx, e.s.trainKey(k))
				if err != nil {
					return err
				}
				if m == victim {
					moving++
				}
			}
			if moving == 0 || moving == len(trains) {
				return fmt.Errorf("%d of %d trains on the killed master, want some", moving, len(trains))
			}
			if _, err := nodes.KillMasterOf(ctx, e.s.opts.EventStream); err != nil {
				return err
			}
			// go-redis does not reload the slot map when a master refuses
			// connections (redis/go-redis#3979): until its reload interval
			// (60s) passes, the client sends the dead master's slots to the
			// dead master. The store cannot see that; the client must.
			return nodes.Refresh(ctx, rdb)
		},
	})
}

// TestFailoverSentinel runs the failover scenario on a master and its
// replica watched by three sentinels, through a failover client.
func TestFailoverSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five redis-servers and waits for a failover")
	}
	set := redistest.Sentinel(t)
	rdb := set.Client()
	testFailover(t, &env{s: New(rdb, Options{}), rdb: rdb}, failover{
		sync: set.WaitReplicated,
		kill: func(ctx context.Context, _ []train.Key) error {
			_, err := set.KillMaster(ctx)
			return err
		},
	})
}

// failover is a replicated Redis whose master can be killed.
type failover struct {
	// sync waits until the replicas have every write the masters acknowledged.
	sync func(ctx context.Context) error
	// kill kills a master holding some of trains and the event stream, and
	// returns once a replica serves in its place.
	kill func(ctx context.Context, trains []train.Key) error
}

// testFailover saves trains (several versions each), queues events and
// hands some to a consumer group, takes a lease, then kills a master and
// checks that nothing acknowledged before was lost and that the store
// keeps working: saves are still compare-and-set, events undelivered,
// pending and acknowledged are where they were, the lease still holds.
func testFailover(t *testing.T, e *env, f failover) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const trains, versions = 30, 3
	saved := map[train.Key]train.Train{}
	var keys []train.Key
	for i := range trains {
		k := train.Key{Forge: "gitlab", Project: fmt.Sprintf("group/project-%d", i%5), Branch: fmt.Sprintf("branch-%d", i)}
		tr := fullTrain(k, 2)
		for v := range versions {
			tr.Window = v + 1
			var err error
			if tr, err = e.s.Save(ctx, tr); err != nil {
				t.Fatalf("save %s: %v", k, err)
			}
		}
		saved[k] = tr
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)

	ensureGroup(t, e)
	ids := addEvents(t, e, 30)
	read, err := e.s.ReadEvents(ctx, group, "c1", 20, 0)
	if err != nil || len(read) != 20 {
		t.Fatalf("read = %d events, %v; want 20", len(read), err)
	}
	if err := e.s.Ack(ctx, group, ids[:10]...); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.s.AcquireLease(ctx, keys[0], "worker-a", time.Minute); !ok || err != nil {
		t.Fatalf("acquire lease = %v, %v", ok, err)
	}

	// Replication is asynchronous: a write the master acknowledged can be
	// lost if it dies before a replica has it. Waiting until the replicas
	// caught up makes "acknowledged before the kill" mean "kept".
	if err := f.sync(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := f.kill(ctx, keys); err != nil {
		t.Fatal(err)
	}
	t.Logf("failover took %s", time.Since(start).Round(time.Millisecond))

	for _, k := range keys {
		got, err := e.s.Load(ctx, k)
		if err != nil {
			t.Fatalf("load after failover: %v", err)
		}
		if !reflect.DeepEqual(got, saved[k]) {
			t.Fatalf("train %s after failover: version %d, want the last saved, %d", k, got.Version, saved[k].Version)
		}
		next, err := e.s.Save(ctx, got)
		if err != nil || next.Version != versions+1 {
			t.Fatalf("save %s after failover: version %d, %v; want %d", k, next.Version, err, versions+1)
		}
		if _, err := e.s.Save(ctx, got); !errors.Is(err, ErrConflict) {
			t.Fatalf("stale save of %s after failover: %v, want a conflict", k, err)
		}
	}
	if got, err := e.s.List(ctx); err != nil || !reflect.DeepEqual(got, keys) {
		t.Fatalf("list after failover = %d trains, %v; want %d", len(got), err, len(keys))
	}

	fresh, err := e.s.ReadEvents(ctx, group, "c2", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := eventIDs(t, fresh, 1); !reflect.DeepEqual(got, ids[20:]) {
		t.Fatalf("undelivered events after failover %v, want %v", got, ids[20:])
	}
	pending, err := e.s.ClaimIdle(ctx, group, "c2", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	// The ten c1 read and never acknowledged, and the ten c2 just read,
	// each handed out a second time now.
	if got := eventIDs(t, pending, 2); !reflect.DeepEqual(got, ids[10:]) {
		t.Fatalf("pending events after failover %v, want %v", got, ids[10:])
	}
	if err := e.s.Ack(ctx, group, ids[10:]...); err != nil {
		t.Fatal(err)
	}
	id, err := e.s.AddEvent(ctx, []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if evs, err := e.s.ReadEvents(ctx, group, "c2", 100, 0); err != nil || len(evs) != 1 || evs[0].ID != id {
		t.Fatalf("read of the event added after failover = %v, %v; want %s", evs, err, id)
	}

	if ok, err := e.s.AcquireLease(ctx, keys[0], "worker-b", time.Minute); ok || err != nil {
		t.Fatalf("acquire of a held lease after failover = %v, %v; want false", ok, err)
	}
	if err := e.s.ReleaseLease(ctx, keys[0], "worker-a"); err != nil {
		t.Fatalf("release after failover: %v", err)
	}
}
