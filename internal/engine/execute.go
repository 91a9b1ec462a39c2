package engine

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// nothingDone is what an action that found nothing to do returns: a
// cancel of a pipeline that had finished since the train last looked.
type nothingDone struct{}

func (nothingDone) Error() string { return "nothing to do" }

// execute carries out the train's outbox, moves of the target first. It
// returns the observations the actions produced and the actions that
// failed and must be tried again or were not reached: it stops after an
// action that learnt a pipeline's result, which the planner must see
// before anything else is built, and when other work waits for the
// train (yield), which the pass should let in.
func (e *Engine) execute(ctx context.Context, log *zap.Logger, t *train.Train) (_ []train.Observation, _ train.Actions, yield bool, _ error) {
	var results []train.Observation
	var left train.Actions
	var errs []error
	outbox := train.MovesFirst(train.Coalesce(t.Outbox))
	statuses := train.OnlyStatuses(outbox)
	done := 0
	for i, a := range outbox {
		if _, ok := a.(train.Status); ok && !statuses {
			// What an MR shows waits for the rest of the pass, which
			// may change it again: one write says where it ended.
			left = append(left, a)
			continue
		}
		if done > 0 && (train.Settled(results) || othersWait(ctx)) {
			left = append(left, outbox[i:]...)
			yield = !train.Settled(results)
			break
		}
		if !t.Wants(a) {
			// Superseded since it was planned (a crash, or a failed try):
			// its result would be ignored, so it is not worth doing.
			continue
		}
		actx, cancel := context.WithTimeout(ctx, e.cfg.ActionTimeout)
		obs, err := e.act(actx, t, a)
		cancel()
		done++
		switch {
		case err == nil:
			results = append(results, obs...)
			if e.trace.Acted != nil {
				e.trace.Acted(t.Key, a)
			}
		case errors.Is(err, nothingDone{}):
			// Done, with nothing to tell: the trace (and the metrics
			// behind it) counts what happened, not what was asked.
			log.Debug("action found nothing to do", zap.String("action", fmt.Sprintf("%T %+v", a, a)))
		case errors.Is(err, forge.ErrNotFound):
			// What the action was about is gone (a deleted MR, a pipeline
			// purged); repeating it cannot succeed.
			log.Warn("action dropped", zap.String("action", fmt.Sprintf("%T", a)), zap.Error(err))
		case errors.Is(err, forge.ErrRejected) && tellsPeople(a):
			// A note or status the forge refuses (too long, or a token
			// without the right to comment) is dropped: kept, it would
			// hold back every status of the train and fail each pass,
			// which skips the work that follows a pass. The log keeps
			// it; a token that lost a right fails louder elsewhere.
			log.Warn("message refused by the forge, dropped", zap.String("action", fmt.Sprintf("%T", a)), zap.Error(err))
		default:
			left = append(left, a)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return results, left, yield, outboxError{errors.Join(errs...)}
	}
	return results, left, yield, nil
}

// outboxError is the failure of actions the train keeps in its outbox:
// its next pass or sweep tries them again, whichever event brought it.
type outboxError struct{ err error }

func (e outboxError) Error() string { return e.err.Error() }
func (e outboxError) Unwrap() error { return e.err }

// tellsPeople reports whether a only tells people something, so that
// nothing the train decides waits for it.
func tellsPeople(a train.Action) bool {
	switch a.(type) {
	case train.Comment, train.Status:
		return true
	}
	return false
}

func (e *Engine) act(ctx context.Context, t *train.Train, a train.Action) ([]train.Observation, error) {
	if target, lane, ok := e.laneOf(t.Key); ok {
		if done, err := e.laneAct(ctx, t, target, lane, a); done {
			return nil, err
		}
	}
	switch a := a.(type) {
	case train.JoinLane:
		return nil, e.joinLane(ctx, t, a)
	case train.LeaveLane:
		return nil, e.leaveLane(ctx, t, a)
	case train.ResetLane:
		return nil, e.staleLane(ctx, t, a)
	case train.ResetBranch:
		return e.resetBranch(ctx, t)
	case train.BuildCar:
		b, err := e.build(ctx, t, a)
		if err != nil {
			return nil, fmt.Errorf("build car !%d on %.12s: %w", a.MR, a.Base, err)
		}
		return []train.Observation{b}, nil
	case train.StartPipeline:
		obs, err := e.startPipeline(ctx, t, a)
		if errors.Is(err, forge.ErrRejected) {
			// The error names the forge's URLs; the MR is told what the
			// forge said, and the log keeps the rest.
			e.log.Warn("pipeline refused", zap.String("train", t.Key.String()), zap.Int64("mr", a.MR), zap.Error(err))
			return []train.Observation{train.PipelineRefused{MR: a.MR, SHA: a.Commit, Reason: forge.Said(err)}}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("start pipeline for !%d at %.12s: %w", a.MR, a.Commit, err)
		}
		return obs, nil
	case train.CancelPipeline:
		stopped, err := e.forge.CancelPipeline(ctx, t.Project, a.Pipeline)
		if err != nil {
			return nil, fmt.Errorf("cancel pipeline %d of !%d: %w", a.Pipeline, a.MR, err)
		}
		if !stopped {
			return nil, nothingDone{}
		}
	case train.FastForwardTarget:
		if news, err := e.newsBeforeMerge(ctx, t, a); err != nil || len(news) > 0 {
			return news, err
		}
		r, err := e.fastForward(ctx, t, a)
		if err != nil {
			return nil, fmt.Errorf("fast-forward %s to %.12s: %w", t.Branch, a.To, err)
		}
		return []train.Observation{r}, nil
	case train.DeleteCarRef:
		repo, err := e.repos.Repo(ctx, t.Project)
		if err == nil {
			err = repo.DeleteRemoteBranch(ctx, e.carBranch(t.Key, a.MR))
		}
		if err != nil {
			return nil, fmt.Errorf("delete car branch of !%d: %w", a.MR, err)
		}
	case train.CloseMR:
		if err := e.forge.CloseMR(ctx, t.Project, a.MR); err != nil {
			return nil, fmt.Errorf("close !%d: %w", a.MR, err)
		}
	case train.Comment:
		if err := e.commentText(ctx, t.Project, a.MR, a.Key, a.Body); err != nil {
			return nil, err
		}
	case train.Notify:
		if e.notify != nil {
			e.notify.Notify(ctx, t.Key, a)
		}
	case train.Status:
		if err := e.showStatus(ctx, t, a); err != nil {
			return nil, err
		}
	case train.Record:
		if err := e.store.AppendHistory(ctx, t.Key, a.Car); err != nil {
			return nil, fmt.Errorf("record !%d: %w", a.Car.MR, err)
		}
	default:
		return nil, fmt.Errorf("unknown action %T", a)
	}
	return nil, nil
}

func (e *Engine) build(ctx context.Context, t *train.Train, a train.BuildCar) (train.Built, error) {
	out := train.Built{MR: a.MR, Base: a.Base, HeadSHA: a.HeadSHA}
	repo, err := e.repos.Repo(ctx, t.Project)
	if err != nil {
		return out, err
	}
	if err := e.ensureCommit(ctx, repo, t, a.Base); err != nil {
		return out, err
	}
	if !repo.HasCommit(ctx, a.HeadSHA) {
		// A missing MR ref (a deleted source branch) is not fatal here:
		// the check below tells the author what is missing.
		_, _ = repo.FetchMR(ctx, e.cfg.Profile.Names.HeadRef(a.MR))
	}
	started := time.Now()
	res, err := repo.Build(ctx, gitops.BuildRequest{
		Base: a.Base, Head: a.HeadSHA, Method: string(a.Method),
		SourceBranch: a.Source, TargetBranch: t.Branch, Project: t.Project,
		Title: a.Title, MRRef: e.cfg.Profile.Label(a.MR), Time: a.At,
	})
	var missing *gitops.MissingCommitError
	// Only a build that itself took most of the time counts as slow, not
	// one a slow fetch before it left no time.
	slow := e.slow.count(t.Key, a, errors.Is(err, context.DeadlineExceeded) && time.Since(started) >= e.cfg.ActionTimeout/2)
	switch {
	case errors.As(err, &missing) && missing.SHA == a.HeadSHA:
		out.Error = fmt.Sprintf("its head commit %.12s cannot be fetched from %s (is it on a fork the bot cannot read?); "+
			"push the branch to this project and open the merge request from there", a.HeadSHA, e.cfg.Profile.Names.HeadRef(a.MR))
		return out, nil
	case errors.Is(err, gitops.ErrNoMergeBase):
		out.Error = fmt.Sprintf("its commits share no history with %s, so they cannot be merged onto it; "+
			"rebase the branch onto %s and add it again", train.Quote(t.Branch), train.Quote(t.Branch))
		return out, nil
	case slow >= maxSlowBuilds:
		// A build that never ends in time would be tried on every pass,
		// and hold every car behind it.
		out.Error = fmt.Sprintf("building it did not finish within %s, %d times: the merge is too large for the train to build", e.cfg.ActionTimeout, slow)
		return out, nil
	case err != nil:
		return out, err
	case res.Conflicted():
		out.Conflict = res.Conflict[:min(len(res.Conflict), train.KeptConflictPaths)]
		return out, nil
	}
	if out.OnPush, err = e.pushCar(ctx, repo, t, a, res.Commit); err != nil {
		return out, err
	}
	out.Commit = res.Commit
	return out, nil
}

// maxSlowBuilds is how many times a build may run out of time before
// the car is evicted for it.
const maxSlowBuilds = 3

// slowBuilds counts, per build of a car, the times it ran out of time in
// a row on this replica. It is bounded like freshCommits; a count lost
// costs a few more tries.
type slowBuilds struct {
	mu sync.Mutex
	m  map[string]int
}

// count records whether the build a ran out of time, and returns how
// many times in a row it has.
func (s *slowBuilds) count(key train.Key, a train.BuildCar, timedOut bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := fmt.Sprintf("%s!%d#%d@%s", key, a.MR, a.Build, a.Base)
	if !timedOut {
		delete(s.m, k)
		return 0
	}
	if len(s.m) >= freshMax {
		clear(s.m)
	}
	s.m[k]++
	return s.m[k]
}

// startPipeline reuses a pipeline that runs or passed for exactly this
// commit on the car branch, and creates one otherwise. A commit this
// engine just pushed onto a new car branch has none to reuse; one pushed
// with the pipeline's variables starts its own, which its webhook brings
// to the car. Asked again (a sweep's Resync: the webhook may be lost),
// the car looks for it, and after PushPipelineWait creates one.
func (e *Engine) startPipeline(ctx context.Context, t *train.Train, a train.StartPipeline) ([]train.Observation, error) {
	ref := e.carBranch(t.Key, a.MR)
	// The car says when the push that starts its pipeline was made, so
	// any replica waits for that pipeline.
	onPush := !a.Pushed.IsZero() && !a.Again
	waiting := onPush && e.now().Sub(a.Pushed) < e.cfg.PushPipelineWait
	if waiting && !e.fresh.ask(t.Key, a.Commit, a.Pushed) {
		return nil, nil
	}
	var existing []forge.Pipeline
	if onPush || !e.fresh.takeCreated(t.Key, a.Commit) {
		var err error
		if existing, err = e.forge.PipelinesFor(ctx, t.Project, ref, a.Commit); err != nil {
			return nil, err
		}
	}
	for _, p := range existing {
		if p.SHA != a.Commit || p.Status == train.PipelineFailed || p.Status == train.PipelineCanceled || p.Status == train.PipelineSkipped {
			continue
		}
		obs := []train.Observation{train.PipelineCreated{MR: a.MR, SHA: p.SHA, Pipeline: p.ID}}
		if p.Status.Done() {
			obs = append(obs, train.PipelineStatus{Pipeline: p.ID, SHA: p.SHA, Status: p.Status})
		}
		return obs, nil
	}
	if waiting {
		return nil, nil // not created yet
	}
	if onPush && len(existing) == 0 {
		e.pushless.add(t.Project, e.now())
		e.log.Warn("a car push with the pipeline's variables started no pipeline; creating car pipelines through the API for a while",
			zap.String("train", t.Key.String()), zap.Int64("mr", a.MR), zap.String("sha", a.Commit), zap.Duration("for", pushlessFor))
	}
	p, err := e.forge.CreatePipeline(ctx, t.Project, ref, pipelineVariables(t.Branch, a.MRs))
	if err != nil {
		return nil, err
	}
	// The forge runs the ref's head: if the car branch moved on since, the
	// SHA differs and the planner cancels the pipeline as nobody's.
	return []train.Observation{train.PipelineCreated{MR: a.MR, SHA: p.SHA, Pipeline: p.ID}}, nil
}

func (e *Engine) fastForward(ctx context.Context, t *train.Train, a train.FastForwardTarget) (train.FastForwarded, error) {
	if fw, ok := e.forge.(forge.Forwarder); ok && e.cfg.Policy.ForgeFastForward(t.Project) {
		// The commit is on the forge already, on its car branch.
		r, err := fw.FastForward(ctx, t.Project, t.Branch, a.Expected, a.To)
		if err != nil {
			return train.FastForwarded{}, err
		}
		return train.FastForwarded{To: a.To, Expected: a.Expected, Rejected: r.Rejected, Head: r.Head}, nil
	}
	repo, err := e.repos.Repo(ctx, t.Project)
	if err != nil {
		return train.FastForwarded{}, err
	}
	// The mirror must hold the commit (built here, by another replica or
	// before a restart) and the head the push expects to replace: git
	// refuses to push over a remote head it does not hold. Both are
	// there when this replica built the car and saw the last move, and
	// a fetch is saved.
	if !repo.HasCommit(ctx, a.Expected) {
		// Still missing after it, the head was rewritten: the push then
		// finds the target moved, which the planner handles.
		if err := e.fetchTrain(ctx, repo, t); err != nil {
			return train.FastForwarded{}, err
		}
	}
	if err := e.ensureCommit(ctx, repo, t, a.To); err != nil {
		return train.FastForwarded{}, err
	}
	var opts []string
	if _, _, lane := e.laneOf(t.Key); lane {
		opts = e.laneOptions()
	}
	// The car branches of the MRs it merges go in the same push: one
	// push per merge instead of two, and a shorter pass.
	gone := make([]string, 0, len(a.MRs))
	for _, mr := range a.MRs {
		gone = append(gone, e.carBranch(t.Key, mr))
	}
	r, err := repo.FastForwardDeleting(ctx, t.Branch, a.Expected, a.To, gone, opts...)
	if err != nil {
		return train.FastForwarded{}, err
	}
	ff := train.FastForwarded{To: a.To, Expected: a.Expected, Rejected: r.Rejected, Head: r.Head}
	if r.Deleted {
		ff.Deleted = slices.Clone(a.MRs)
	}
	return ff, nil
}

// newsBeforeMerge reads the MRs a fast-forward would merge, just before it:
// a webhook about new commits or a close may still wait in the queue, and
// the train would merge a head its author has moved on from; and an
// approval may have been revoked, changes requested or a blocking thread
// opened, which the forge would refuse the merge for. If one changed, the
// push is not made: the news, then a refused fast-forward, let the
// planner drop that car and rebuild the rest. Rules the forge is still
// working out hold the push back (an error: the action is tried again).
// An MR found merged may be merged by this very fast-forward, made before
// a crash: the target's head, read then, tells.
func (e *Engine) newsBeforeMerge(ctx context.Context, t *train.Train, a train.FastForwardTarget) ([]train.Observation, error) {
	var news []train.Observation
	for _, mr := range a.MRs {
		c := t.Car(mr)
		if c == nil {
			continue
		}
		n, err := e.carNews(ctx, t, *c)
		if err != nil {
			return nil, fmt.Errorf("fast-forward %s: %w", t.Branch, err)
		}
		news = append(news, n...)
	}
	if len(news) == 0 {
		return nil, nil
	}
	head, err := e.forge.BranchHead(ctx, t.Project, t.Branch)
	if err != nil {
		return nil, fmt.Errorf("fast-forward %s: read its head: %w", t.Branch, err)
	}
	if head == a.To {
		return []train.Observation{train.FastForwarded{To: a.To, Expected: a.Expected, Head: head}}, nil
	}
	return append(news, train.FastForwarded{To: a.To, Expected: a.Expected, Rejected: true, Head: head}), nil
}

// carNews reads a car's MR and, where enforced, its merge rules (in one
// request where the forge gives both) and says what stops it merging.
func (e *Engine) carNews(ctx context.Context, t *train.Train, c train.Car) ([]train.Observation, error) {
	if _, _, lane := e.laneOf(t.Key); lane || !e.enforcing(t.Project) {
		// The target's train reads the rules before the MR merges.
		return e.mrNews(ctx, t.Key, c)
	}
	r, rerr := e.readRules(ctx, t.Project, c.MR, t.Branch)
	if rerr != nil && !errors.Is(rerr, forge.ErrNotFound) {
		return nil, rerr
	}
	var news []train.Observation
	var err error
	if r.MR != nil {
		news, err = newsOf(t.Key, c, *r.MR, nil)
	} else {
		// Also when the rules were not found: the MR says whether it is
		// gone.
		news, err = e.mrNews(ctx, t.Key, c)
	}
	switch {
	case err != nil || len(news) > 0:
		return news, err
	case rerr != nil:
		// The MR is there: its rules gone missing is no reason to drop
		// the fast-forward, as a not-found error would.
		return nil, fmt.Errorf("!%d: merge rules not found: %v", c.MR, rerr)
	case r.Met():
		return nil, nil
	}
	return []train.Observation{train.RulesUnmet{MR: c.MR, Message: r.Sentence()}}, nil
}

// ensureCommit makes sure the mirror holds sha: the target head, or a car
// commit, which is always on its car branch before anyone builds on it.
func (e *Engine) ensureCommit(ctx context.Context, repo Repo, t *train.Train, sha string) error {
	if repo.HasCommit(ctx, sha) {
		return nil
	}
	if err := e.fetchTrain(ctx, repo, t); err != nil {
		return err
	}
	if repo.HasCommit(ctx, sha) {
		return nil
	}
	return fmt.Errorf("commit %.12s is neither on %s nor on a car branch: %w", sha, t.Branch, gitops.ErrMissingCommit)
}

// fetchTrain fetches the train's target and car branches into the
// mirror. A commit the mirror lacks is on one or the other: on a car
// branch another replica built (or this one, before a restart). Both
// come in one fetch, one round trip to the forge where a fetch of each
// cost two when the commit was a car's, as every move of the target is.
func (e *Engine) fetchTrain(ctx context.Context, repo Repo, t *train.Train) error {
	cars := e.cfg.CarPrefix + "/" + t.Branch
	return repo.Fetch(ctx, "+refs/heads/"+t.Branch+":"+gitops.LocalBranchRef(t.Branch),
		"+refs/heads/"+cars+"/*:refs/trainyard/cars/"+cars+"/*")
}

// marker tags a note so that it is posted once whatever happens. The
// tag is signed with the deployment's note key: anyone can write a
// marker into a note of their own, and a note that seems posted is not
// posted again.
func (e *Engine) marker(ctx context.Context, project string, mr int64, key string) (string, error) {
	secret, err := e.noteKey(ctx)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "%s!%d:%s", forge.ProjectKey(project), mr, key)
	return "<!-- trainyard:" + key + " " + hex.EncodeToString(mac.Sum(nil))[:16] + " -->", nil
}

// noteKey is the key markers are signed with, shared by the replicas
// through the store and made by the first that needs it.
func (e *Engine) noteKey(ctx context.Context) ([]byte, error) {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	if e.signKey != nil {
		return e.signKey, nil
	}
	v, err := e.store.MarkOnce(ctx, "note-key", rand.Text())
	if err != nil {
		return nil, fmt.Errorf("note key: %w", err)
	}
	e.signKey = []byte(v)
	return e.signKey, nil
}

func (e *Engine) comment(ctx context.Context, project string, mr int64, key, body string) error {
	err := e.commentText(ctx, project, mr, key, train.Words(body))
	if errors.Is(err, forge.ErrRejected) {
		// A reply the forge refuses (a locked discussion, a token
		// without the right to comment) is dropped, as the train's own
		// messages are: the command did what it asked, and kept failing
		// it would be tried again until it ended in the dead letters
		// with nothing left to do but say so.
		e.log.Warn("reply refused by the forge, dropped", zap.String("project", project), zap.Int64("mr", mr),
			zap.String("reply", key), zap.Error(err))
		return nil
	}
	return err
}

// commentText posts body once, with each pipeline it refers to named and
// linked the forge's way. Whether it was posted is kept in the store, so
// the MR's notes are read only after a crash left it unknown; the note's
// hidden marker answers then.
func (e *Engine) commentText(ctx context.Context, project string, mr int64, key string, body train.Text) error {
	mark, err := e.marker(ctx, project, mr, key)
	if err != nil {
		return err
	}
	id := fmt.Sprintf("note:%s:%s!%d:%s", e.cfg.Profile.Name, forge.ProjectKey(project), mr, key)
	switch state, err := e.store.Mark(ctx, id); {
	case err != nil:
		return err
	case state == store.NotePosted:
		return nil
	case state == store.NotePosting:
		posted, err := e.posted(ctx, project, mr, mark)
		if err != nil || posted {
			if posted {
				err = e.store.SetMark(ctx, id, store.NotePosted, noteKeep)
			}
			return err
		}
	}
	if err := e.store.SetMark(ctx, id, store.NotePosting, noteKeep); err != nil {
		return err
	}
	text := body.RenderRefs(func(s train.Span) string { return e.pipelineText(ctx, project, s) })
	if err := e.forge.Comment(ctx, project, mr, text+"\n\n"+mark); err != nil {
		return fmt.Errorf("comment on !%d: %w", mr, err)
	}
	return e.store.SetMark(ctx, id, store.NotePosted, noteKeep)
}

// noteKeep is how long a note is remembered as posted: as long as a
// command, whose replies are notes.
const noteKeep = commandKeep

// posted tells whether the MR has a note with mark.
func (e *Engine) posted(ctx context.Context, project string, mr int64, mark string) (bool, error) {
	notes, err := e.forge.Notes(ctx, project, mr)
	if err != nil {
		return false, fmt.Errorf("read notes of !%d: %w", mr, err)
	}
	mine, err := e.ownNotes(ctx)
	if err != nil {
		return false, err
	}
	for _, n := range notes {
		if strings.Contains(n.Body, mark) && mine(n) {
			return true, nil
		}
	}
	return false, nil
}

// ownNotes tells the notes Trainyard wrote from others': a marker is in
// plain sight in the bot's note, and anyone who can comment may copy it
// into one of theirs. Where the forge client cannot say who it writes
// as (a test's stand-in), every note counts, as the markers alone did;
// where it fails to, the pass fails and is tried again.
func (e *Engine) ownNotes(ctx context.Context) (func(forge.Note) bool, error) {
	s, ok := e.forge.(forge.Self)
	if !ok {
		return func(forge.Note) bool { return true }, nil
	}
	self, err := s.Self(ctx)
	if err == nil && self == "" {
		err = errors.New("the forge gave no user name")
	}
	if err != nil {
		return nil, fmt.Errorf("read who the forge client writes as: %w", err)
	}
	return func(n forge.Note) bool { return strings.EqualFold(n.Author, self) }, nil
}
