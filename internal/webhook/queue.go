package webhook

import (
	"context"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/event"
)

const (
	forgeGitLab  = "gitlab"
	forgeGitHub  = "github"
	eventUnknown = "unknown"
)

// msgQueueDown is all the sender learns of a queue failure: the cause, such
// as a Redis address, is for the operator's log.
const msgQueueDown = "event queue unavailable, retry later"

// enqueue validates ev, drops it if its delivery was seen before, and
// queues it.
//
// The delivery is marked seen before the event is queued, so two copies of
// one delivery arriving together cannot both be queued. If queuing then
// fails, the mark is taken back before the 503 goes out, so the forge's retry, which carries the same id,
// is queued rather than dropped as a repeat. Should taking it back fail too,
// the retry is dropped: that is logged as an error, and the workers'
// periodic sweep re-reads the forge, so the lost event delays a train but
// cannot stall it. A queue call that timed out may have queued the event
// anyway; the retry then queues it twice, which the workers tolerate since
// handling an event twice changes nothing.
func (h *Handler) enqueue(ctx context.Context, ev event.Event, label string) answer {
	if err := ev.Validate(); err != nil {
		return failure(http.StatusBadRequest, OutcomeBadRequest, fmt.Sprintf("unusable %s payload: %v", label, err))
	}
	data, err := ev.Marshal()
	if err != nil {
		h.log.Error("encode webhook event", zap.String("delivery", ev.ID), zap.Error(err))
		return failure(http.StatusInternalServerError, OutcomeError, "encode event")
	}
	ctx, cancel := context.WithTimeout(ctx, h.queueTimeout)
	defer cancel()
	key := ev.Forge + ":" + ev.ID
	first, err := h.queue.FirstDelivery(ctx, key, h.dedupTTL)
	if err != nil {
		h.log.Error("check webhook delivery", zap.String("delivery", key), zap.Error(err))
		return failure(http.StatusServiceUnavailable, OutcomeError, msgQueueDown)
	}
	if !first {
		return duplicate()
	}
	if _, err := h.queue.AddEvent(ctx, data); err != nil {
		h.log.Error("queue webhook event", zap.String("delivery", key), zap.Error(err))
		h.forget(ctx, key)
		return failure(http.StatusServiceUnavailable, OutcomeError, msgQueueDown)
	}
	if ce := h.log.Check(zap.DebugLevel, "webhook event queued"); ce != nil {
		ce.Write(eventFields(ev)...)
	}
	return queued()
}

// forget takes back the seen mark of a delivery that was not queued. It
// runs even if the request's context has ended, with a deadline of its own.
func (h *Handler) forget(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.queueTimeout)
	defer cancel()
	if err := h.queue.ForgetDelivery(ctx, key); err != nil {
		h.log.Error("delivery marked seen but not queued; a retry of it will be dropped",
			zap.String("delivery", key), zap.Error(err))
	}
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
