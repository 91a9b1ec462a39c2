package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/command"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/store"
)

const (
	forgeGitLab = gitlab.Name
	forgeGitHub = github.Name
	// eventUnknown labels a request before it is authenticated, and
	// eventOther an event type Trainyard does not use: metric labels come
	// from the used event types and these two only, so no sender can mint
	// new series.
	eventUnknown = "unknown"
	eventOther   = "other"
)

// msgQueueDown is all the sender learns of a queue failure: the cause, such
// as a Redis address, is for the operator's log.
const msgQueueDown = "event queue unavailable, retry later"

// msgQueueFull answers a delivery while the event queue holds its cap of
// events not yet handled.
const msgQueueFull = "event queue full, retry later"

// enqueue validates ev and queues it unless its delivery was queued
// before. The store marks the delivery seen and queues the event in one
// script, so a crash leaves both or neither: a delivery is never marked
// seen without its event, and the forge's re-send of one that was not
// queued gets through. A queue call that timed out may have queued the
// event anyway; the re-send is then answered as a duplicate, which it is.
func (h *Handler) enqueue(ctx context.Context, ev event.Event, label string) answer {
	if err := ev.Validate(); err != nil {
		return failure(http.StatusBadRequest, OutcomeBadRequest, fmt.Sprintf("unusable %s payload: %v", label, err))
	}
	if strings.HasPrefix(ev.ID, event.CatchUpPrefix) {
		return failure(http.StatusBadRequest, OutcomeBadRequest, fmt.Sprintf("delivery id %q: ids starting with %q are Trainyard's own", boundName(ev.ID), event.CatchUpPrefix))
	}
	data, err := ev.Marshal()
	if err != nil {
		h.log.Error("encode webhook event", zap.String("delivery", ev.ID), zap.Error(err))
		return failure(http.StatusInternalServerError, OutcomeError, "encode event")
	}
	ctx, cancel := context.WithTimeout(ctx, h.queueTimeout)
	defer cancel()
	key := ev.Forge + ":" + ev.ID
	first, err := h.queue.EnqueueDelivery(ctx, key, h.dedupTTL, data)
	if errors.Is(err, store.ErrFull) {
		// Nothing queued and nothing marked: the forge's re-send, or
		// the catch-up of commands, gets it in once the queue drains.
		h.log.Error("event queue full; webhook refused", zap.String("delivery", key), zap.Error(err))
		return failure(http.StatusServiceUnavailable, OutcomeError, msgQueueFull)
	}
	if err != nil {
		h.log.Error("queue webhook event", zap.String("delivery", key), zap.Error(err))
		return failure(http.StatusServiceUnavailable, OutcomeError, msgQueueDown)
	}
	if !first {
		return duplicate()
	}
	if ev.Kind == event.KindComment && command.MayHold(ev.Body) {
		// Only a hint for the catch-up, which would queue the command a
		// second time without it: a failure costs that, nothing more.
		if err := h.queue.MarkCommandQueued(ctx, ev.CommandID(), h.dedupTTL); err != nil {
			h.log.Warn("mark command queued", zap.String("delivery", key), zap.Error(err))
		}
	}
	if ce := h.log.Check(zap.DebugLevel, "webhook event queued"); ce != nil {
		ce.Write(eventFields(ev)...)
	}
	return queued()
}

func eventFields(ev event.Event) []zap.Field {
	return []zap.Field{
		zap.String("delivery", ev.ID), zap.String("forge", ev.Forge), zap.String("project", ev.Project),
		zap.String("kind", string(ev.Kind)), zap.Int64("mr", ev.MR), zap.Int64("pipeline", ev.Pipeline),
		zap.String("sha", firstNonEmpty(ev.SHA, ev.HeadSHA, ev.After)),
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
