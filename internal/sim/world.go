// Package sim is a simulated forge for driving the train planner: commits
// are sets of MRs, CI fails exactly the commits that carry a broken MR, and
// conflicts are a fixed relation between MRs. It lets the production planner
// be exercised without git, Redis or a forge, deterministically.
package sim

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"

	"github.com/trainyard/trainyard/internal/train"
)

// Pipeline is one simulated CI run.
type Pipeline struct {
	ID     int64
	SHA    string
	MR     int64
	Status train.PipelineState
}

// World is the simulated forge and repository. It is not safe for
// concurrent use.
type World struct {
	// Target is the head of the target branch.
	Target string
	// Broken MRs fail every pipeline whose commit carries them. An MR's
	// entry must be set before the MR is first built: commits remember
	// whether they carry a broken MR when they are made.
	Broken map[int64]bool
	// Conflicts pairs MRs that cannot both be applied (key: lower MR first).
	Conflicts map[[2]int64]bool

	commits   map[string]*commit
	pipelines map[int64]*Pipeline
	running   map[int64]bool
	// live maps a commit to its running or passed pipeline, the one a
	// repeated start reuses.
	live map[string]int64
	// added lists, per MR, the commits that added it.
	added  map[int64][]*commit
	nextID int64
}

// commit is one node of the history: its parent plus at most one MR.
// Contents are shared with the parent rather than copied, so a history of
// n merges costs O(n) memory, and jump pointers answer "does this commit
// carry MR m" in O(log n) steps.
type commit struct {
	sha    string
	parent *commit
	jump   *commit // an ancestor further up, for logarithmic walks
	depth  int
	mr     int64 // zero for a commit that adds no MR
	broken bool  // carries a broken MR
}

func newCommit(sha string, parent *commit, mr int64, broken bool) *commit {
	c := &commit{sha: sha, parent: parent, mr: mr, broken: broken}
	if parent == nil {
		c.jump = c
		return c
	}
	c.depth = parent.depth + 1
	c.broken = c.broken || parent.broken
	c.jump = parent
	if j := parent.jump; j != nil && j.jump != nil && parent.depth-j.depth == j.depth-j.jump.depth {
		c.jump = j.jump
	}
	return c
}

// ancestorAt returns c's ancestor at depth d (c itself when d is its depth).
func (c *commit) ancestorAt(d int) *commit {
	for c.depth > d {
		if c.jump.depth >= d {
			c = c.jump
		} else {
			c = c.parent
		}
	}
	return c
}

// NewWorld returns a world whose target branch holds one root commit.
func NewWorld() *World {
	root := hash("root")
	return &World{
		Target:    root,
		Broken:    map[int64]bool{},
		Conflicts: map[[2]int64]bool{},
		commits:   map[string]*commit{root: newCommit(root, nil, 0, false)},
		pipelines: map[int64]*Pipeline{},
		running:   map[int64]bool{},
		live:      map[string]int64{},
		added:     map[int64][]*commit{},
	}
}

func hash(parts ...string) string {
	h := sha1.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// HeadOf returns the head commit id used for an MR at a revision.
func HeadOf(mr int64, rev int) string {
	return hash("mr", strconv.FormatInt(mr, 10), strconv.Itoa(rev))
}

// Content returns the MRs a commit carries, sorted.
func (w *World) Content(sha string) []int64 {
	var out []int64
	for c := w.commits[sha]; c != nil; c = c.parent {
		if c.mr != 0 {
			out = append(out, c.mr)
		}
	}
	slices.Sort(out)
	return out
}

// carries reports whether commit c carries mr: some commit that added mr
// is an ancestor of c.
func (w *World) carries(c *commit, mr int64) bool {
	for _, a := range w.added[mr] {
		if a.depth <= c.depth && c.ancestorAt(a.depth) == a {
			return true
		}
	}
	return false
}

// Build makes the speculative commit for a BuildCar action.
func (w *World) Build(a train.BuildCar) train.Built {
	out := train.Built{MR: a.MR, Base: a.Base, HeadSHA: a.HeadSHA}
	base, ok := w.commits[a.Base]
	if !ok {
		out.Error = "base commit " + a.Base + " not found"
		return out
	}
	if paths := w.conflictPaths(base, a.MR); len(paths) > 0 {
		out.Conflict = paths
		return out
	}
	if w.carries(base, a.MR) {
		out.Commit = a.Base
		return out
	}
	sha := hash("car", a.Base, a.HeadSHA, string(a.Method))
	if _, ok := w.commits[sha]; !ok {
		w.commits[sha] = newCommit(sha, base, a.MR, w.Broken[a.MR])
		w.added[a.MR] = append(w.added[a.MR], w.commits[sha])
	}
	out.Commit = sha
	return out
}

// conflictPaths lists a path per MR in base that conflicts with mr.
func (w *World) conflictPaths(base *commit, mr int64) []string {
	var paths []string
	for pair, on := range w.Conflicts {
		if !on || (pair[0] != mr && pair[1] != mr) || pair[0] == pair[1] {
			continue
		}
		other := pair[0] + pair[1] - mr
		if w.carries(base, other) {
			paths = append(paths, fmt.Sprintf("file-%d.txt", min(other, mr)))
		}
	}
	slices.Sort(paths)
	return paths
}

// StartPipeline starts a pipeline for the commit, or returns one that is
// still pending or that passed for that exact commit, as the executor does
// to keep starts idempotent. reused reports the latter.
func (w *World) StartPipeline(a train.StartPipeline) (p *Pipeline, reused bool) {
	if id, ok := w.live[a.Commit]; ok {
		return w.pipelines[id], true
	}
	w.nextID++
	p = &Pipeline{ID: w.nextID, SHA: a.Commit, MR: a.MR, Status: train.PipelineRunning}
	w.pipelines[p.ID] = p
	w.running[p.ID] = true
	w.live[a.Commit] = p.ID
	return p, false
}

// Pipeline returns a pipeline by id.
func (w *World) Pipeline(id int64) *Pipeline { return w.pipelines[id] }

// Running returns the pipelines still running, oldest first.
func (w *World) Running() []*Pipeline {
	ids := make([]int64, 0, len(w.running))
	for id := range w.running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*Pipeline, len(ids))
	for i, id := range ids {
		out[i] = w.pipelines[id]
	}
	return out
}

// Finish ends a running pipeline: it fails when its commit carries a broken
// MR or when flake is true, and succeeds otherwise.
func (w *World) Finish(id int64, flake bool) train.PipelineStatus {
	p := w.pipelines[id]
	if p.Status == train.PipelineRunning {
		p.Status = train.PipelineSuccess
		if flake || w.CarriesBroken(p.SHA) {
			p.Status = train.PipelineFailed
			delete(w.live, p.SHA)
		}
		delete(w.running, id)
	}
	return train.PipelineStatus{Pipeline: p.ID, SHA: p.SHA, Status: p.Status}
}

// CarriesBroken reports whether a commit carries a broken MR.
func (w *World) CarriesBroken(sha string) bool {
	c := w.commits[sha]
	return c != nil && c.broken
}

// Cancel stops a running pipeline.
func (w *World) Cancel(id int64) {
	if p := w.pipelines[id]; p != nil && p.Status == train.PipelineRunning {
		p.Status = train.PipelineCanceled
		delete(w.running, id)
		delete(w.live, p.SHA)
	}
}

// Passed reports whether some pipeline succeeded for exactly sha.
func (w *World) Passed(sha string) bool {
	id, ok := w.live[sha]
	return ok && w.pipelines[id].Status == train.PipelineSuccess
}

// FastForward moves the target as a non-forced push would: only from the
// expected head, or not at all.
func (w *World) FastForward(a train.FastForwardTarget) train.FastForwarded {
	if w.Target == a.To {
		return train.FastForwarded{To: a.To, Expected: a.Expected, Head: a.To}
	}
	if w.Target != a.Expected {
		return train.FastForwarded{To: a.To, Expected: a.Expected, Rejected: true, Head: w.Target}
	}
	w.Target = a.To
	return train.FastForwarded{To: a.To, Expected: a.Expected, Head: a.To}
}

// PushOutside moves the target to a new commit made outside the train.
func (w *World) PushOutside(tag string) string {
	sha := hash("outside", w.Target, tag)
	w.commits[sha] = newCommit(sha, w.commits[w.Target], 0, false)
	w.Target = sha
	return sha
}
