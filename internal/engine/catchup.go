package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/command"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge"
)

// CatchUp finds the /train comments on the open MRs of the engine's
// projects that no webhook brought (posted while Trainyard or Redis was
// down, or lost on the way) and queues them as the webhook would have.
// Each project is read by one replica per SweepEvery, from a cursor in
// Redis that holds the forge's own time of the last change seen: with
// nothing new, that is one forge request. The first pass for a project
// only sets the cursor: comments from before Trainyard ran are not
// commands to it (and may have been answered by an older version).
func (e *Engine) CatchUp(ctx context.Context) error {
	if e.comments == nil {
		return nil
	}
	var errs []error
	for _, p := range e.cfg.Projects {
		if err := e.catchUp(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("catch up on %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) catchUp(ctx context.Context, project string) error {
	name := e.cfg.Profile.Name + ":" + forge.ProjectKey(project)
	// A little under the interval, so the replica that ran it last may
	// run it again on its next pass.
	if first, err := e.store.Once(ctx, "catch-up:"+name, e.cfg.SweepEvery*9/10); err != nil || !first {
		return err
	}
	since, ok, err := e.store.Cursor(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return e.store.SetCursor(ctx, name, e.now())
	}
	comments, next, err := e.comments.CommentsSince(ctx, project, since)
	if err != nil {
		return err
	}
	// GitHub stamps comments to the second: one made in the second the
	// cursor falls in must not look older than it. Better to take a
	// comment from just before the cursor than to lose one from after.
	missed, err := e.missed(ctx, project, since.Truncate(time.Second), comments)
	if err != nil {
		return err
	}
	for _, c := range missed {
		if err := e.queueMissed(ctx, project, c); err != nil {
			return err
		}
	}
	if next.After(since) {
		return e.store.SetCursor(ctx, name, next)
	}
	return nil
}

// missed keeps the comments posted since from that hold a command neither
// queued nor acted on yet. An edited comment is not a new command, as the
// webhooks do not take one either: its author is who posted it, not who
// edited it, and on GitHub anyone with write access may edit another's
// comment, so a maintainer's "LGTM" edited into "/train pause" would run
// with the maintainer's role. (GitHub stamps both times to the second:
// an edit within the second of the comment's creation cannot be told.)
func (e *Engine) missed(ctx context.Context, project string, from time.Time, comments []forge.Comment) ([]forge.Comment, error) {
	var out []forge.Comment
	var ids []string
	for _, c := range comments {
		if c.Created.Before(from) || c.Updated.After(c.Created) || command.Parse(c.Body).Ignored() {
			continue
		}
		out = append(out, c)
		ids = append(ids, e.commentEventOf(project, c).CommandID())
	}
	seen, err := e.store.CommandsSeen(ctx, ids)
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for i, c := range out {
		if !seen[ids[i]] {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

func (e *Engine) commentEventOf(project string, c forge.Comment) event.Event {
	return event.Event{
		ID: event.CatchUpPrefix + strconv.FormatInt(c.ID, 10), Forge: e.cfg.Profile.Name, Project: project, Kind: event.KindComment,
		User: event.User{ID: c.AuthorID, Username: c.Author}, MR: c.MR, CommentID: c.ID, Body: c.Body,
	}
}

// queueMissed queues a missed command as its webhook would have been, so
// it is handled, retried and buried like any other.
func (e *Engine) queueMissed(ctx context.Context, project string, c forge.Comment) error {
	ev := e.commentEventOf(project, c)
	data, err := ev.Marshal()
	if err != nil {
		return fmt.Errorf("encode comment %d on !%d: %w", c.ID, c.MR, err)
	}
	queued, err := e.store.EnqueueDelivery(ctx, ev.Forge+":"+ev.ID, e.cfg.DedupTTL, data)
	if err != nil {
		return err
	}
	if !queued {
		return nil
	}
	e.log.Info("queued a command no webhook brought", zap.String("project", project), zap.Int64("mr", c.MR),
		zap.Int64("comment", c.ID), zap.String("author", c.Author))
	return e.store.MarkCommandQueued(ctx, ev.CommandID(), e.cfg.DedupTTL)
}
