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
	// Broken MRs fail every pipeline whose commit carries them.
	Broken map[int64]bool
	// Conflicts pairs MRs that cannot both be applied (key: lower MR first).
	Conflicts map[[2]int64]bool

	commits   map[string][]int64 // commit -> MRs it carries, sorted
	pipelines map[int64]*Pipeline
	order     []int64 // pipeline ids in creation order
	nextID    int64
}

// NewWorld returns a world whose target branch holds one root commit.
func NewWorld() *World {
	root := hash("root")
	return &World{
		Target:    root,
		Broken:    map[int64]bool{},
		Conflicts: map[[2]int64]bool{},
		commits:   map[string][]int64{root: nil},
		pipelines: map[int64]*Pipeline{},
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

// Content returns the MRs a commit carries.
func (w *World) Content(sha string) []int64 { return slices.Clone(w.commits[sha]) }

// Build makes the speculative commit for a BuildCar action.
func (w *World) Build(a train.BuildCar) train.Built {
	out := train.Built{MR: a.MR, Base: a.Base, HeadSHA: a.HeadSHA}
	base, ok := w.commits[a.Base]
	if !ok {
		out.Error = "base commit " + a.Base + " not found"
		return out
	}
	var paths []string
	for _, m := range base {
		if w.conflict(m, a.MR) {
			paths = append(paths, fmt.Sprintf("file-%d.txt", min(m, a.MR)))
		}
	}
	if len(paths) > 0 {
		out.Conflict = paths
		return out
	}
	if slices.Contains(base, a.MR) {
		out.Commit = a.Base
		return out
	}
	sha := hash("car", a.Base, a.HeadSHA, string(a.Method))
	content := append(slices.Clone(base), a.MR)
	slices.Sort(content)
	w.commits[sha] = content
	out.Commit = sha
	return out
}

func (w *World) conflict(a, b int64) bool {
	if a > b {
		a, b = b, a
	}
	return w.Conflicts[[2]int64{a, b}]
}

// StartPipeline starts a pipeline for the commit, or returns one that is
// still pending or that passed for that exact commit, as the executor does
// to keep starts idempotent. reused reports the latter.
func (w *World) StartPipeline(a train.StartPipeline) (p *Pipeline, reused bool) {
	for _, id := range w.order {
		q := w.pipelines[id]
		if q.SHA == a.Commit && (q.Status == train.PipelineRunning || q.Status == train.PipelineSuccess) {
			return q, true
		}
	}
	w.nextID++
	p = &Pipeline{ID: w.nextID, SHA: a.Commit, MR: a.MR, Status: train.PipelineRunning}
	w.pipelines[p.ID] = p
	w.order = append(w.order, p.ID)
	return p, false
}

// Pipeline returns a pipeline by id.
func (w *World) Pipeline(id int64) *Pipeline { return w.pipelines[id] }

// Running returns the pipelines still running, oldest first.
func (w *World) Running() []*Pipeline {
	var out []*Pipeline
	for _, id := range w.order {
		if p := w.pipelines[id]; p.Status == train.PipelineRunning {
			out = append(out, p)
		}
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
		}
	}
	return train.PipelineStatus{Pipeline: p.ID, SHA: p.SHA, Status: p.Status}
}

// CarriesBroken reports whether a commit carries a broken MR.
func (w *World) CarriesBroken(sha string) bool {
	return slices.ContainsFunc(w.commits[sha], func(m int64) bool { return w.Broken[m] })
}

// Cancel stops a running pipeline.
func (w *World) Cancel(id int64) {
	if p := w.pipelines[id]; p != nil && p.Status == train.PipelineRunning {
		p.Status = train.PipelineCanceled
	}
}

// Passed reports whether some pipeline succeeded for exactly sha.
func (w *World) Passed(sha string) bool {
	for _, p := range w.pipelines {
		if p.SHA == sha && p.Status == train.PipelineSuccess {
			return true
		}
	}
	return false
}

// FastForward moves the target as a non-forced push would: only from the
// expected head, or not at all.
func (w *World) FastForward(a train.FastForwardTarget) train.FastForwarded {
	if w.Target == a.To {
		return train.FastForwarded{To: a.To, Head: a.To}
	}
	if w.Target != a.Expected {
		return train.FastForwarded{To: a.To, Rejected: true, Head: w.Target}
	}
	w.Target = a.To
	return train.FastForwarded{To: a.To, Head: a.To}
}

// PushOutside moves the target to a new commit made outside the train.
func (w *World) PushOutside(tag string) string {
	sha := hash("outside", w.Target, tag)
	w.commits[sha] = slices.Clone(w.commits[w.Target])
	w.Target = sha
	return sha
}
