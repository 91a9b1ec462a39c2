package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/store"
	v1 "github.com/trainyard/trainyard/pkg/api"
)

// Events is what the API needs of the dead-letter stream. Dead letters hold
// whole events, comment text of possibly private projects included, so
// every route of theirs needs the token.
type Events interface {
	// DeadLetters returns up to count dead letters, newest first.
	DeadLetters(ctx context.Context, count int64) ([]store.DeadLetter, error)
	// DeadLetter returns one; store.ErrNotFound if there is none by id.
	DeadLetter(ctx context.Context, id string) (store.DeadLetter, error)
	// Requeue puts a dead letter's event back on the event stream and
	// returns its new entry id; store.ErrNotFound if there is none by id.
	Requeue(ctx context.Context, id string) (string, error)
}

var _ Events = (*store.Store)(nil)

// Dead letter list limits: the default and the most one call returns
// (exported for the client to check its flag against).
const (
	defaultDead    = 50
	MaxDeadLetters = 1000
)

// events returns the dead-letter store, or a 404 when the server has none.
func (s *server) events() (Events, error) {
	if s.Events == nil {
		return nil, notFound("dead letters not available")
	}
	return s.Events, nil
}

// deadLetters answers GET /api/v1/events/dead[?limit=N].
func (s *server) deadLetters(r *http.Request) (any, error) {
	ev, err := s.events()
	if err != nil {
		return nil, err
	}
	limit, err := limitOf(r, defaultDead, MaxDeadLetters)
	if err != nil {
		return nil, err
	}
	dls, err := ev.DeadLetters(r.Context(), limit)
	if err != nil {
		return nil, err
	}
	out := v1.DeadLetterList{DeadLetters: make([]v1.DeadLetter, len(dls))}
	for i, d := range dls {
		out.DeadLetters[i] = deadLetterOf(d)
	}
	return out, nil
}

// deadLetter answers GET /api/v1/events/dead/{id}.
func (s *server) deadLetter(r *http.Request) (any, error) {
	ev, err := s.events()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	d, err := ev.DeadLetter(r.Context(), id)
	if err != nil {
		return nil, &call{deadName(id), err}
	}
	return deadLetterOf(d), nil
}

// requeue answers POST /api/v1/events/dead/{id}/requeue.
func (s *server) requeue(r *http.Request) (any, error) {
	ev, err := s.events()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	entry, err := ev.Requeue(r.Context(), id)
	if err != nil {
		return nil, &call{deadName(id), err}
	}
	s.Logger.Info("dead letter requeued", zap.String("dead_letter", id), zap.String("entry", entry))
	return v1.Requeued{ID: id, Entry: entry}, nil
}

// deadName names a dead letter in a message; an id that is not a stream
// entry id is quoted, so whatever a caller sent stays on one line.
func deadName(id string) string {
	if id != "" && !strings.ContainsFunc(id, func(c rune) bool { return (c < '0' || c > '9') && c != '-' }) {
		return "dead letter " + id
	}
	return fmt.Sprintf("dead letter %q", id)
}

func deadLetterOf(d store.DeadLetter) v1.DeadLetter {
	out := v1.DeadLetter{ID: d.ID, Entry: d.Entry, Reason: d.Reason, Deliveries: d.Deliveries, FailedAt: d.At.UTC()}
	if !json.Valid(d.Data) {
		out.Data = cut(string(d.Data), v1.MaxDeadData)
		return out
	}
	out.Event = json.RawMessage(d.Data)
	// An event that does not validate still shows what it has.
	var e event.Event
	if json.Unmarshal(d.Data, &e) == nil {
		out.Delivery, out.Forge, out.Project, out.Kind, out.MR = e.ID, e.Forge, e.Project, string(e.Kind), e.MR
	}
	return out
}

// cut shortens s to at most n bytes, on a character boundary, and marks
// the cut with an ellipsis.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return forge.Clip(s, n) + "…"
}
