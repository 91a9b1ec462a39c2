package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
)

// forgeOp holds one operation's series, looked up once so a call costs no
// label hashing.
type forgeOp struct {
	took  prometheus.Observer
	calls prometheus.Counter
	errs  prometheus.Counter
}

// done records a call that started at start and ended with *err.
func (o *forgeOp) done(start time.Time, err *error) {
	o.took.Observe(time.Since(start).Seconds())
	o.calls.Inc()
	if *err != nil {
		o.errs.Inc()
	}
}

// instrumentedForge times and counts every call to the forge it wraps.
type instrumentedForge struct {
	next engine.Forge

	mergeRequest, accessLevel, createPipeline, pipelinesFor, pipeline,
	cancelPipeline, comment, closeMR, notes, branchHead forgeOp
}

// InstrumentForge wraps f so that every call is timed and counted under
// forgeName, with op the method's name in snake case. Every returned error
// counts, a not-found answer included.
func (m *Metrics) InstrumentForge(f engine.Forge, forgeName string) engine.Forge {
	op := func(name string) forgeOp {
		// The series exist from the start, so a rate over them reads 0
		// rather than nothing before the first call.
		return forgeOp{
			took:  m.forgeTook.WithLabelValues(forgeName, name),
			calls: m.forgeCalls.WithLabelValues(forgeName, name),
			errs:  m.forgeErrs.WithLabelValues(forgeName, name),
		}
	}
	return &instrumentedForge{
		next:           f,
		mergeRequest:   op("merge_request"),
		accessLevel:    op("access_level"),
		createPipeline: op("create_pipeline"),
		pipelinesFor:   op("pipelines_for"),
		pipeline:       op("pipeline"),
		cancelPipeline: op("cancel_pipeline"),
		comment:        op("comment"),
		closeMR:        op("close_mr"),
		notes:          op("notes"),
		branchHead:     op("branch_head"),
	}
}

func (f *instrumentedForge) MergeRequest(ctx context.Context, project string, iid int64) (_ forge.MR, err error) {
	defer f.mergeRequest.done(time.Now(), &err)
	return f.next.MergeRequest(ctx, project, iid)
}

func (f *instrumentedForge) AccessLevel(ctx context.Context, project string, userID int64) (_ forge.AccessLevel, err error) {
	defer f.accessLevel.done(time.Now(), &err)
	return f.next.AccessLevel(ctx, project, userID)
}

func (f *instrumentedForge) CreatePipeline(ctx context.Context, project, ref string, vars map[string]string) (_ forge.Pipeline, err error) {
	defer f.createPipeline.done(time.Now(), &err)
	return f.next.CreatePipeline(ctx, project, ref, vars)
}

func (f *instrumentedForge) PipelinesFor(ctx context.Context, project, ref, sha string) (_ []forge.Pipeline, err error) {
	defer f.pipelinesFor.done(time.Now(), &err)
	return f.next.PipelinesFor(ctx, project, ref, sha)
}

func (f *instrumentedForge) Pipeline(ctx context.Context, project string, id int64) (_ forge.Pipeline, err error) {
	defer f.pipeline.done(time.Now(), &err)
	return f.next.Pipeline(ctx, project, id)
}

func (f *instrumentedForge) CancelPipeline(ctx context.Context, project string, id int64) (err error) {
	defer f.cancelPipeline.done(time.Now(), &err)
	return f.next.CancelPipeline(ctx, project, id)
}

func (f *instrumentedForge) Comment(ctx context.Context, project string, iid int64, body string) (err error) {
	defer f.comment.done(time.Now(), &err)
	return f.next.Comment(ctx, project, iid, body)
}

func (f *instrumentedForge) CloseMR(ctx context.Context, project string, iid int64) (err error) {
	defer f.closeMR.done(time.Now(), &err)
	return f.next.CloseMR(ctx, project, iid)
}

func (f *instrumentedForge) Notes(ctx context.Context, project string, iid int64) (_ []forge.Note, err error) {
	defer f.notes.done(time.Now(), &err)
	return f.next.Notes(ctx, project, iid)
}

func (f *instrumentedForge) BranchHead(ctx context.Context, project, branch string) (_ string, err error) {
	defer f.branchHead.done(time.Now(), &err)
	return f.next.BranchHead(ctx, project, branch)
}
