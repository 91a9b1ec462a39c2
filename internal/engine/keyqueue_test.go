package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/train"
)

func jobFor(branch string, obs ...train.Observation) Job {
	return Job{Key: train.Key{Forge: "gitlab", Project: "g/p", Branch: branch}, Obs: obs}
}

// A pipeline's result that a car waits for goes ahead of builds and
// sweeps, also when it joins work already in line, and a worker's pass
// learns that it waits.
func TestKeyQueueHandsOutResultsFirst(t *testing.T) {
	q := newKeyQueue()
	result := train.PipelineStatus{Pipeline: 7, SHA: "c", Status: train.PipelineSuccess}
	q.add(jobFor("a", train.Tick{}))
	q.add(jobFor("b", train.Tick{}))
	q.add(Job{Key: jobFor("c").Key, Sweep: true})

	id, _, _ := q.get() // a worker takes a
	if id != jobFor("a").Key.String() {
		t.Fatalf("first out %s, want a", id)
	}
	if q.othersWait(id) {
		t.Fatal("nothing urgent waits, yet the pass of a would yield")
	}
	q.add(Job{Key: jobFor("d").Key, Checks: []string{"c0ffee"}, urgent: true}) // new
	joins := jobFor("c", result)
	joins.urgent = true
	q.add(joins) // joins c in line
	if !q.othersWait(id) {
		t.Fatal("results wait and no worker is free, yet the pass of a would not yield")
	}
	var order []string
	for range 3 {
		got, it, _ := q.get()
		order = append(order, got)
		q.done(got, nil, 0)
		if got == jobFor("c").Key.String() && (!it.job.Sweep || len(it.job.Obs) != 1) {
			t.Fatalf("c lost work when it moved ahead: %+v", it.job)
		}
	}
	want := []string{jobFor("d").Key.String(), jobFor("c").Key.String(), jobFor("b").Key.String()}
	if !slices.Equal(order, want) {
		t.Fatalf("handed out %q, want %q", order, want)
	}
	if q.othersWait(id) {
		t.Fatal("nothing waits any more, yet the pass of a would yield")
	}
	q.add(jobFor("a", train.Tick{})) // more for a while its worker has it
	if !q.othersWait(id) {
		t.Fatal("work for a waits, yet its pass would not yield")
	}
}

// Another replica that wants a train's lease for a result ends the pass
// of the worker that has it here, that pass only.
func TestKeyQueueYieldsToAnotherReplicasResult(t *testing.T) {
	q := newKeyQueue()
	a := jobFor("a", train.Tick{}).Key.String()
	q.want(a) // not here: nothing to end
	q.add(jobFor("a", train.Tick{}))
	id, _, _ := q.get()
	if q.othersWait(id) {
		t.Fatal("a want heard before the pass began ends it")
	}
	q.want(a)
	if !q.othersWait(id) {
		t.Fatal("the want of another replica does not end the pass")
	}
	q.done(id, nil, 0)
	q.add(jobFor("a", train.Tick{}))
	id, _, _ = q.get()
	if q.othersWait(id) {
		t.Fatal("a want outlived the pass it was for")
	}
}

// Commands on one MR go out one at a time, in the order they came, each
// with its own entries; one delivered twice runs once; a command on
// another MR goes out beside them; one given back after a busy lease
// stays ahead of those that came after it.
func TestKeyQueueRunsAnMRsCommandsInTurn(t *testing.T) {
	q := newKeyQueue()
	cmd := func(mr, comment int64) Job {
		return Job{Key: train.Key{Forge: "gitlab", Project: "g/p"},
			Command: &event.Event{Forge: "gitlab", Project: "g/p", Kind: event.KindComment, MR: mr, CommentID: comment}}
	}
	ens := func(n int) []*entry { return make([]*entry, n) }
	q.add(cmd(1, 10), ens(1)...) // add
	q.add(cmd(1, 11), ens(1)...) // remove
	q.add(cmd(1, 10), ens(1)...) // the add, delivered again
	q.add(cmd(2, 20), ens(1)...) // another MR
	q.add(cmd(1, 12), ens(1)...) // retry

	first, it, _ := q.get()
	if it.job.Command.CommentID != 10 || len(it.entries) != 2 {
		t.Fatalf("first out %s: comment %d with %d entries, want 10 with 2", first, it.job.Command.CommentID, len(it.entries))
	}
	other, it2, _ := q.get()
	if other == first || it2.job.Command.MR != 2 {
		t.Fatalf("second out %s (%+v), want the command on !2 beside !1's", other, it2.job.Command)
	}
	q.done(other, nil, 0)
	// !1's next command waits for the first's worker.
	q.mu.Lock()
	waiting := len(q.ready) + len(q.urgent)
	q.mu.Unlock()
	if waiting != 0 {
		t.Fatalf("%d keys in line while !1's first command runs", waiting)
	}
	q.done(first, it, time.Millisecond) // busy: tried again, ahead of the rest
	var order []int64
	for range 3 {
		id, it, _ := q.get()
		if id != first {
			t.Fatalf("out %s, want !1's commands", id)
		}
		order = append(order, it.job.Command.CommentID)
		q.done(id, nil, 0)
	}
	if !slices.Equal(order, []int64{10, 11, 12}) {
		t.Fatalf("!1's commands went out as %v, want 10, 11, 12", order)
	}
}

// Work that runs alone is not merged, either way, and work added behind it
// merges with the rest of what waits behind it, in order.
func TestKeyQueueRunsSoloWorkAlone(t *testing.T) {
	q := newKeyQueue()
	head := func(mr int64, solo bool) Job {
		j := jobFor("main", train.HeadChanged{MR: mr})
		j.solo = solo
		return j
	}
	ens := func(n int) []*entry { return make([]*entry, n) }
	q.add(head(1, false), ens(1)...)
	q.add(head(2, true), ens(1)...)
	q.add(head(3, false), ens(1)...)
	q.add(head(4, false), ens(1)...)
	q.add(head(5, true), ens(1)...)
	var passes [][]int64
	for range 4 {
		id, it, ok := q.get()
		if !ok {
			t.Fatal("queue closed")
		}
		var mrs []int64
		for _, o := range it.job.Obs {
			mrs = append(mrs, o.(train.HeadChanged).MR)
		}
		if len(it.entries) != len(mrs) {
			t.Fatalf("pass %v with %d entries", mrs, len(it.entries))
		}
		passes = append(passes, mrs)
		q.done(id, nil, 0)
	}
	if got := fmt.Sprint(passes); got != "[[1] [2] [3 4] [5]]" {
		t.Fatalf("passes %s, want [[1] [2] [3 4] [5]]", got)
	}
}

// A result that came for a train while a pass of it was under way, and
// was not waited on then, goes ahead of other trains' work once the pass
// ends if a car now waits for it: on a forge that starts a car's pipeline
// on the push, the pass that pushed the car saves it after the result
// came. The pass may be this process's, or another replica's, which
// announces the lease it releases.
func TestWorkersPromoteAResultThePassMadeAwaited(t *testing.T) {
	a, b, c := jobFor("a").Key, jobFor("b").Key, jobFor("c").Key
	for _, tc := range []struct {
		name          string
		waited, local bool
		want          []string
	}{
		{"this process's pass built its car", true, true, []string{a.String(), b.String(), c.String()}},
		{"another replica's pass built its car", true, false, []string{a.String(), b.String(), c.String()}},
		{"no car waits for it", false, true, []string{b.String(), c.String(), a.String()}},
		{"no car waits for it, another replica's pass", false, false, []string{b.String(), c.String(), a.String()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newKeyQueue()
			var id string
			var it *item
			if tc.local {
				q.add(jobFor("a", train.Tick{}))
				id, it, _ = q.get() // a worker has a and pushes its car
			}
			q.add(jobFor("b", train.Tick{}))
			q.add(jobFor("c", train.Tick{}))
			result := jobFor("a", train.PipelineFound{MR: 1, SHA: "c0ffee", Pipeline: 9, Status: train.PipelineSuccess})
			result.results = []string{"c0ffee"}
			q.add(result) // not waited on yet: the car is not saved
			var asked []string
			w := &Workers{queue: q, Log: zap.NewNop(), Urgent: func(_ context.Context, key train.Key, commits []string) bool {
				asked = append(asked, fmt.Sprint(key, commits))
				return tc.waited && key == a && slices.Equal(commits, []string{"c0ffee"})
			}}
			if tc.local {
				w.promoteResults(t.Context(), id, it.job.Key)
				q.done(id, nil, 0)
			} else {
				if w.leaseFreed(a) {
					w.promoteResults(t.Context(), a.String(), a)
				}
			}
			if want := []string{fmt.Sprint(a, []string{"c0ffee"})}; !slices.Equal(asked, want) {
				t.Fatalf("asked %q, want %q", asked, want)
			}
			var order []string
			for range 3 {
				got, _, _ := q.get()
				order = append(order, got)
				q.done(got, nil, 0)
			}
			if !slices.Equal(order, tc.want) {
				t.Fatalf("handed out %q, want %q", order, tc.want)
			}
		})
	}
}
