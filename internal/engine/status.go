package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// statusKey is the key of the marker (see marker) that tags the MR's
// status comment, so that a post a crash left unconfirmed is found
// instead of repeated.
const statusKey = "status"

// statusKeep is how long what an MR shows is remembered after it last
// changed; an MR whose record expired gets a new status comment.
const statusKeep = 90 * 24 * time.Hour

// DefaultStatusGrace is Config.StatusGrace's default: most pipelines take
// longer, and the sweep that sets an owed status comes within an interval
// more.
const DefaultStatusGrace = 10 * time.Second

// shown is what the forge shows of an MR's place on its train, as last
// written: its status comment and the commit status on its head.
type shown struct {
	Note int64 `json:"note,omitempty"`
	// Posting: the comment was being posted and its id never came back.
	Posting bool   `json:"posting,omitempty"`
	Body    string `json:"body,omitempty"`  // digest of the comment's text
	Added   string `json:"added,omitempty"` // the sentence of its adding, rendered
	SHA     string `json:"sha,omitempty"`   // the commit the status is on
	State   string `json:"state,omitempty"`
	ID      string `json:"id,omitempty"` // the forge's id for that status
	// Seen is the head the MR was first shown on the train with, and
	// Since when (Unix ms): a commit status of its queue or test waits
	// until Since is StatusGrace old (see payOwed).
	Seen  string `json:"seen,omitempty"`
	Since int64  `json:"since,omitempty"`
}

// loadShown reads what the MR of record name shows; ok is false when
// nothing is recorded, or the record is unreadable (logged).
func (e *Engine) loadShown(ctx context.Context, name string) (rec shown, ok bool, err error) {
	raw, err := e.store.Mark(ctx, name)
	if err != nil || raw == "" {
		return shown{}, false, err
	}
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		e.log.Warn("status record unreadable; starting again", zap.String("record", name), zap.Error(err))
		return shown{}, false, nil
	}
	return rec, true, nil
}

// saver stores *rec as record name when called.
func (e *Engine) saver(ctx context.Context, name string, rec *shown) func() error {
	return func() error {
		raw, err := json.Marshal(*rec)
		if err != nil {
			return err
		}
		return e.store.SetMark(ctx, name, string(raw), statusKeep)
	}
}

func statusName(key train.Key, mr int64) string {
	return fmt.Sprintf("status:%s:%s!%d", key.Forge, forge.ProjectKey(key.Project), mr)
}

// showStatus brings what the MR shows up to date with a: its comment is
// posted once and then edited, and the commit status set when its state
// or commit changes. Nothing is written when nothing changed, so a
// repeat costs one Redis read.
func (e *Engine) showStatus(ctx context.Context, t *train.Train, a train.Status) error {
	name := statusName(t.Key, a.MR)
	rec, _, err := e.loadShown(ctx, name)
	if err != nil {
		return err
	}
	if len(a.Added) > 0 {
		rec.Added = e.render(ctx, t.Project, a.Added)
	}
	link := e.link(t.Key, a.MR)
	mark, err := e.marker(ctx, t.Project, a.MR, statusKey)
	if err != nil {
		return err
	}
	body := e.statusBody(ctx, t, a, rec.Added, link, mark)
	save := e.saver(ctx, name, &rec)
	if err := e.showComment(ctx, t.Project, a.MR, &rec, body, mark, save); err != nil {
		return err
	}
	if !a.Phase.Done() {
		if rec.Seen != a.HeadSHA {
			rec.Seen, rec.Since = a.HeadSHA, e.now().UnixMilli()
		}
		if e.graceLeft(rec) {
			return save()
		}
	}
	return e.setCommitStatus(ctx, t, a, &rec, link, save)
}

// link is the dashboard's page of the MR, or "".
func (e *Engine) link(key train.Key, mr int64) string {
	if e.cfg.StatusLink == nil {
		return ""
	}
	return e.cfg.StatusLink(key, mr)
}

// graceLeft reports whether the commit status of an MR shown as rec may
// still wait (Config.StatusGrace).
func (e *Engine) graceLeft(rec shown) bool {
	return e.cfg.StatusGrace > 0 && e.now().Sub(time.UnixMilli(rec.Since)) < e.cfg.StatusGrace
}

// setCommitStatus sets the commit status on the MR's head to a's phase,
// unless it is that already, and saves rec.
func (e *Engine) setCommitStatus(ctx context.Context, t *train.Train, a train.Status, rec *shown, link string, save func() error) error {
	state, desc := statusOf(t.Branch, a)
	if rec.SHA == a.HeadSHA && rec.State == string(state) {
		return save()
	}
	s := forge.CommitStatus{SHA: a.HeadSHA, Ref: a.Source, State: state, Description: desc, TargetURL: link}
	if rec.SHA == a.HeadSHA {
		s.ID = rec.ID
	}
	id, err := e.forge.SetCommitStatus(ctx, t.Project, s)
	switch {
	case errors.Is(err, forge.ErrRejected):
		// A status the forge will not take (a move it does not allow,
		// a token without the right) is not worth retrying the train for.
		e.log.Warn("commit status refused", zap.String("train", t.Key.String()), zap.Int64("mr", a.MR), zap.Error(err))
	case err != nil:
		return fmt.Errorf("set the status of !%d: %w", a.MR, err)
	default:
		s.ID = id
	}
	rec.SHA, rec.State, rec.ID = a.HeadSHA, string(state), s.ID
	return save()
}

// payOwed sets the commit status each MR of t owes once its grace is
// over (see Config.StatusGrace): one it shows on its head that is not the
// phase it is in. A sweep's work, so that an MR under test shows it
// within a sweep interval of the grace. The status comment is left as it
// is: it said where the MR is when that changed.
func (e *Engine) payOwed(ctx context.Context, t *train.Train) error {
	if e.cfg.StatusGrace <= 0 {
		return nil
	}
	if _, _, lane := e.laneOf(t.Key); lane {
		// A lane's train shows nothing (laneAct): what its MRs owe is
		// the target's train's to pay, which names the target.
		return nil
	}
	owing := make([]train.Status, 0, len(t.Cars)+len(t.InLanes))
	for _, c := range t.Cars {
		phase := train.PhaseQueued
		if c.Builds > 0 {
			phase = train.PhaseTesting
		}
		owing = append(owing, train.Status{MR: c.MR, HeadSHA: c.HeadSHA, Source: c.Source, Phase: phase})
	}
	// An MR in its lanes waits on the train, as it was shown.
	for _, lc := range t.InLanes {
		owing = append(owing, train.Status{MR: lc.Add.MR, HeadSHA: lc.Add.HeadSHA, Source: lc.Add.Source, Phase: train.PhaseQueued})
	}
	for _, a := range owing {
		name := statusName(t.Key, a.MR)
		rec, ok, err := e.loadShown(ctx, name)
		if err != nil {
			return err
		}
		state, _ := statusOf(t.Branch, a)
		if !ok || rec.Seen != a.HeadSHA || e.graceLeft(rec) || rec.SHA == a.HeadSHA && rec.State == string(state) {
			continue
		}
		if err := e.setCommitStatus(ctx, t, a, &rec, e.link(t.Key, a.MR), e.saver(ctx, name, &rec)); err != nil {
			return err
		}
	}
	return nil
}

// showComment posts or edits the MR's status comment to body.
func (e *Engine) showComment(ctx context.Context, project string, mr int64, rec *shown, body, mark string, save func() error) error {
	sum := digest(body)
	if rec.Note == 0 && rec.Posting {
		notes, err := e.forge.Notes(ctx, project, mr)
		if err != nil {
			return fmt.Errorf("read notes of !%d: %w", mr, err)
		}
		// The first of the bot's own: the marker is the bot's until it
		// posts it, and a note of someone else's holding it is a copy.
		mine, err := e.ownNotes(ctx)
		if err != nil {
			return err
		}
		for _, n := range notes {
			if strings.Contains(n.Body, mark) && mine(n) {
				rec.Note = n.ID
				break
			}
		}
	}
	if rec.Note != 0 {
		if rec.Body == sum {
			return nil
		}
		err := e.forge.EditNote(ctx, project, mr, rec.Note, body)
		if err == nil {
			rec.Body, rec.Posting = sum, false
			return nil
		}
		if !errors.Is(err, forge.ErrNotFound) {
			return fmt.Errorf("edit the status comment of !%d: %w", mr, err)
		}
		// Someone deleted it: post it again.
		rec.Note = 0
	}
	rec.Posting = true
	if err := save(); err != nil {
		return err
	}
	id, err := e.forge.PostNote(ctx, project, mr, body)
	if err != nil {
		return fmt.Errorf("post the status comment of !%d: %w", mr, err)
	}
	rec.Note, rec.Body, rec.Posting = id, sum, false
	return nil
}

// statusBody is the text of the MR's status comment: how it was added,
// where it stands now or how it left, and a link to follow it.
func (e *Engine) statusBody(ctx context.Context, t *train.Train, a train.Status, added, link, mark string) string {
	var parts []string
	if added != "" {
		parts = append(parts, added)
	}
	if a.Phase.Done() {
		parts = append(parts, e.render(ctx, t.Project, a.Outcome))
	} else if i := t.Index(a.MR); i >= 0 {
		now := e.statusText(ctx, *t, a.MR)
		if _, held := t.Hold(e.now()); !t.Paused && !held {
			est := train.EstimateFor(*t, e.now(), e.estimate(ctx, t.Key))
			if eta, ok := est.At(i, t.Cars[i]); ok && eta >= 5*time.Second {
				now += " Expected to merge in about " + train.RoundDuration(eta) + "."
			}
		}
		parts = append(parts, now)
	}
	if link != "" {
		parts = append(parts, "[Follow it on the dashboard]("+link+")")
	}
	return strings.Join(append(parts, mark), "\n\n")
}

// holdText says what holds a train's target, as a comment shows it.
func (e *Engine) holdText(h train.Hold) string {
	return h.Say(train.Quote)
}

// render writes text for a note, each pipeline named and linked the
// forge's way.
func (e *Engine) render(ctx context.Context, project string, text train.Text) string {
	return text.RenderRefs(func(s train.Span) string { return e.pipelineText(ctx, project, s) })
}

// statusOf is the commit status of an MR in a's phase, with a line that
// says it in the forge's list of checks.
func statusOf(branch string, a train.Status) (forge.StatusState, string) {
	switch a.Phase {
	case train.PhaseQueued:
		return forge.StatusPending, "Waiting on the merge train for " + branch
	case train.PhaseTesting:
		return forge.StatusRunning, "Being tested on the merge train for " + branch
	case train.PhaseMerged:
		return forge.StatusSuccess, "Merged into " + branch + " by the merge train"
	case train.PhaseRemoved:
		return forge.StatusCanceled, "Removed from the merge train for " + branch
	}
	return forge.StatusFailed, "Evicted from the merge train for " + branch + "; see the comment on the merge request"
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}
