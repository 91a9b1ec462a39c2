package sim

import (
	"slices"

	"github.com/trainyard/trainyard/internal/train"
)

// Trunk Merge Queue bisects a failed batch outside the queue, with a
// testing concurrency of its own, so that finding the culprit takes no
// room from the batches being tested for merge. Its documented example
// (a failed ABCD: AB is tested and passes, so CD on top of AB, which is
// ABCD again, is known to fail without a test; then C is tested on AB,
// and D is known) is what the lane below does: a failed set is cut in
// two, the first half is tested on the base the set failed on, and the
// second half is tested only where no earlier result answers for it.
//
// The lane finds culprits and merges nothing: a part proven good goes
// back to the queue, keeping its place ahead of later MRs, and is merged
// by the line, tested on top of whatever merged meanwhile.

// probe is one test of the lane: a part of a failed set on a base.
type probe struct {
	u *unit
	// rest is the remainder of the set the part was cut from. known is
	// the commit of the part and rest stacked on the base, which failed
	// (pipeline blame); "" when the part is a set nothing is known of.
	rest  []int64
	known string
	blame int64
}

// bisectOff hands a failed unit, already out of the line, to the lane.
func (r *lineRun) bisectOff(u *unit) {
	r.cutSet(u.mrs, u.base, u.sha, u.pipe)
}

// cutSet handles a set whose commit on base is known to fail: one MR is
// the culprit; more are cut in halves, the first (the larger, as in
// Trunk's ABCDEF into ABC and DEF) tested on base.
func (r *lineRun) cutSet(mrs []int64, base, known string, blame int64) {
	if len(mrs) == 1 {
		r.record(mrs[0], train.StateEvicted, blame)
		return
	}
	h := (len(mrs) + 1) / 2
	r.probes = append(r.probes, &probe{u: &unit{mrs: mrs[:h:h], base: base}, rest: mrs[h:], known: known, blame: blame})
}

// runLane handles the lane's finished tests, then starts waiting ones
// while the lane has pipelines free. It reports whether anything moved.
func (r *lineRun) runLane() bool {
	changed := false
	for i := 0; i < len(r.probes); i++ {
		p := r.probes[i]
		if p.u.pipe == 0 || p.u.state == train.PipelineRunning {
			continue
		}
		r.probes = slices.Delete(r.probes, i, i+1)
		i--
		r.probeDone(p)
		changed = true
	}
	running := 0
	for _, p := range r.probes {
		if p.u.pipe != 0 {
			running++
		}
	}
	for _, p := range r.probes {
		if running >= r.rules.lane {
			break
		}
		if p.u.pipe != 0 {
			continue
		}
		r.build(p.u, p.u.base)
		if len(p.u.mrs) == 0 {
			// Every MR of the part conflicted and left: the part passes
			// as empty, and the rest stands on the base alone.
			p.u.pipe, p.u.state = -1, train.PipelineSuccess
		} else {
			r.start(p.u)
		}
		running++
		changed = true
	}
	return changed
}

// probeDone acts on a lane test's result.
func (r *lineRun) probeDone(p *probe) {
	u := p.u
	if u.state == train.PipelineSuccess {
		r.requeue(u.mrs)
		if len(p.rest) > 0 {
			// The rest on top of a good part is the set that failed.
			r.cutSet(p.rest, u.sha, p.known, p.blame)
		}
		return
	}
	r.cutSet(u.mrs, u.base, u.sha, u.pipe)
	if len(p.rest) > 0 {
		// The part's failure says nothing of the rest: it is tested alone
		// on the base.
		r.probes = append(r.probes, &probe{u: &unit{mrs: p.rest, base: u.base}})
	}
}

// requeue returns MRs proven good to the queue, in arrival order among
// the MRs waiting, so that they keep their place in line.
func (r *lineRun) requeue(mrs []int64) {
	r.waiting = append(r.waiting, mrs...)
	slices.Sort(r.waiting)
}
