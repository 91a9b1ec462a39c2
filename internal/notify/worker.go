package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/store"
)

// worker posts the messages of one route, one at a time, as they fall
// due. After a failure the whole route rests before its next attempt: a
// receiver that failed one message likely fails the next, and the queue
// keeps the messages meanwhile.
type worker struct {
	n *Notifier
	s *sink
	// failures counts the failures in a row (posts that may pass on
	// another attempt, or reads of the queue), for the backoff.
	failures int
	// rest is when the route may be tried again after a failure.
	rest time.Time
}

// run posts until ctx ends, then goes on with what falls due within
// Grace; sctx ends the grace period, and with it any post in flight.
func (w *worker) run(ctx, sctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	done := ctx.Done()
	var end time.Time // of the grace period, once ctx has ended
	for {
		next, pending := w.step(sctx)
		for {
			if sctx.Err() != nil {
				return
			}
			now := w.n.opts.Now()
			if ctx.Err() != nil {
				if end.IsZero() {
					// Look once more: what is due now goes out
					// within the grace period.
					end, done = now.Add(w.n.opts.Grace), nil
					break
				}
				if !pending || next.After(end) {
					return
				}
			}
			wait := next.Sub(now)
			if wait <= 0 {
				break
			}
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-w.s.wake:
				timer.Stop()
				// A message was queued: it is due now, unless the
				// route rests.
				next, pending = later(now, w.rest), true
			case <-done:
				timer.Stop()
			case <-sctx.Done():
				return
			}
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// step claims the route's next due message and settles it. It says when
// to look again, and whether a message is due then (rather than a poll
// for messages queued elsewhere).
func (w *worker) step(ctx context.Context) (time.Time, bool) {
	now := w.n.opts.Now()
	if now.Before(w.rest) {
		return w.rest, true
	}
	c, err := w.n.opts.Queue.Claim(ctx, w.s.name, now, w.n.lease)
	if err != nil {
		if ctx.Err() != nil {
			return now, false
		}
		w.failures++
		w.rest = now.Add(w.n.opts.Retry.wait(w.failures))
		w.n.opts.Logger.Warn("read chat notification queue", zap.String("route", w.s.name), zap.Error(err))
		// Whether anything is due is unknown: a stopping worker
		// does not wait to find out.
		return w.rest, false
	}
	switch {
	case c.ID != "":
		return w.handle(ctx, c), true
	case c.Next.IsZero():
		return now.Add(w.n.opts.Poll), false
	case c.Next.After(now.Add(w.n.opts.Poll)):
		return now.Add(w.n.opts.Poll), true
	}
	return c.Next, true
}

// handle makes one attempt at a claimed message and settles it: sent,
// due again after a wait, or given up. Each outcome is counted once the
// queue holds it, so whoever reads the count finds the queue agreeing.
// It returns when the route may be tried again.
func (w *worker) handle(ctx context.Context, c store.Claimed) time.Time {
	var m message
	if err := json.Unmarshal(c.Data, &m); err != nil {
		w.drop(ctx, c.ID)
		w.n.count(w.s, "unknown", OutcomeFailed)
		w.n.opts.Logger.Error("chat notification does not decode", zap.String("route", w.s.name), zap.String("id", c.ID), zap.Error(err))
		return w.n.opts.Now()
	}
	log := w.n.opts.Logger.With(m.fields(w.s.name)...)
	deadline := m.Queued.Add(w.s.route.retryFor())
	switch now := w.n.opts.Now(); {
	case !now.Before(deadline):
		// Nothing tried it in time: the service was down, or the
		// route rested that long.
		w.expire(ctx, c.ID, m, log, fmt.Errorf("queued %s ago", now.Sub(m.Queued).Round(time.Second)))
		return now
	case m.Hook != w.s.hook:
		// Queued for another webhook under this route's name: by a
		// replica running a newer configuration (a rolling deploy), or
		// before this one's changed. It is never posted here; it waits
		// for a replica whose route has that webhook, until its time is
		// over. It is looked at again only after some polls: one that
		// no replica will take would otherwise be claimed every second
		// for the whole retry period.
		if due := now.Add(max(w.n.opts.Retry.wait(1), hookPolls*w.n.opts.Poll)); due.Before(deadline) {
			w.reschedule(ctx, c.ID, m, due, log)
			return now
		}
		w.expire(ctx, c.ID, m, log, errHookChanged)
		return now
	}
	err := w.send(ctx, m, log)
	m.Attempts++
	now := w.n.opts.Now()
	if err == nil {
		w.failures, w.rest = 0, time.Time{}
		w.settle(ctx, "finish", func(ctx context.Context) error {
			return w.n.opts.Queue.Done(ctx, w.s.name, c.ID, w.n.opts.Remember)
		})
		w.n.count(w.s, m.Kind, OutcomeSent)
		log.Debug("chat notification sent", zap.Int("attempts", m.Attempts))
		return now
	}
	if ctx.Err() != nil {
		// The grace period ended with the post in flight: it is due
		// again at once, for the next start or another replica.
		w.reschedule(ctx, c.ID, m, now, log)
		return now
	}
	atLeast, again := classify(err)
	if !again {
		w.failures, w.rest = 0, time.Time{} // the receiver is up
		w.fail(ctx, c.ID, m, log, err)
		return now
	}
	w.failures++
	wait := max(w.n.opts.Retry.wait(max(w.failures, m.Attempts)), atLeast)
	w.rest = now.Add(wait)
	if w.rest.After(deadline) {
		w.expire(ctx, c.ID, m, log, err)
		return w.rest
	}
	w.reschedule(ctx, c.ID, m, w.rest, log)
	w.n.count(w.s, m.Kind, OutcomeRetried)
	log.Info("chat notification failed, retrying", zap.Int("attempt", m.Attempts), zap.Duration("wait", wait), zap.Error(err))
	return w.rest
}

// hookPolls is how many polls a message queued for another webhook waits
// before this replica looks at it again.
const hookPolls = 6

// errHookChanged: a message waited in the queue of a route whose webhook
// URL is another here (rotated, or the routes were reordered).
var errHookChanged = errors.New("the route's webhook changed since the message was queued")

// send makes one attempt.
func (w *worker) send(ctx context.Context, m message, log *zap.Logger) (err error) {
	defer func() {
		// A sender's bug costs its message, not the process.
		if p := recover(); p != nil {
			log.Error("chat notification panicked", zap.Any("panic", p), zap.Stack("stack"))
			err = fmt.Errorf("post panicked: %v", p)
		}
	}()
	return w.s.sender.Send(ctx, Message{Text: m.Text})
}

// fail gives m up at once: another attempt would end the same.
func (w *worker) fail(ctx context.Context, id string, m message, log *zap.Logger, err error) {
	w.drop(ctx, id)
	w.n.count(w.s, m.Kind, OutcomeFailed)
	log.Warn("chat notification failed", zap.Int("attempts", m.Attempts), zap.Error(err))
}

// expire gives m up once its route's retry period is over.
func (w *worker) expire(ctx context.Context, id string, m message, log *zap.Logger, err error) {
	w.drop(ctx, id)
	w.n.count(w.s, m.Kind, OutcomeExpired)
	log.Warn("chat notification given up", zap.Int("attempts", m.Attempts),
		zap.Duration("retry_for", w.s.route.retryFor()), zap.Error(err))
}

func (w *worker) drop(ctx context.Context, id string) {
	w.settle(ctx, "drop", func(ctx context.Context) error { return w.n.opts.Queue.Drop(ctx, w.s.name, id) })
}

func (w *worker) reschedule(ctx context.Context, id string, m message, due time.Time, log *zap.Logger) {
	data, err := json.Marshal(m)
	if err != nil {
		log.Error("encode chat notification", zap.Error(err))
		return
	}
	w.settle(ctx, "reschedule", func(ctx context.Context) error {
		return w.n.opts.Queue.Retry(ctx, w.s.name, id, data, due)
	})
}

// settle writes a message's fate to the queue, even once the grace
// period is over: a message left claimed is due again only when its
// claim lapses, and a message sent but not marked is sent again then.
func (w *worker) settle(ctx context.Context, op string, write func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.n.opts.QueueTimeout)
	defer cancel()
	if err := write(ctx); err != nil {
		w.n.opts.Logger.Warn("settle chat notification", zap.String("route", w.s.name), zap.String("op", op), zap.Error(err))
	}
}
