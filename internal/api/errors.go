package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/store"
	v1 "github.com/trainyard/trainyard/pkg/api"
)

// statusError is an error whose message is meant for the caller.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &statusError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &statusError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

type methodNotAllowed string

func (m methodNotAllowed) Error() string { return "method not allowed; use " + string(m) }

// call names the thing a failed engine call was about, so the caller gets
// a message about it rather than the engine's internals.
type call struct {
	what string // "merge request !12 of group/app", "train main of group/app"
	err  error
}

func (c *call) Error() string { return c.what + ": " + c.err.Error() }
func (c *call) Unwrap() error { return c.err }

// response turns an error into a status and a message the caller may see.
func response(err error) (int, string) {
	var se *statusError
	var mna methodNotAllowed
	var c *call
	switch {
	case errors.As(err, &se):
		return se.status, se.msg
	case errors.As(err, &mna):
		return http.StatusMethodNotAllowed, mna.Error()
	case errors.As(err, &c) && errors.Is(err, engine.ErrRefused):
		return http.StatusConflict, c.what + " refused: " + refusal(err)
	case errors.As(err, &c) && errors.Is(err, engine.ErrUnknownForge):
		return http.StatusNotFound, c.err.Error()
	case errors.As(err, &c) && (errors.Is(err, forge.ErrNotFound) || errors.Is(err, store.ErrNotFound)):
		return http.StatusNotFound, c.what + " not found"
	case errors.As(err, &c) && errors.Is(err, engine.ErrBusy):
		return http.StatusServiceUnavailable, c.what + " is busy; try again"
	case errors.As(err, &c) && errors.Is(err, engine.ErrRulesPending):
		return http.StatusServiceUnavailable, c.what + ": the forge is still checking whether it may merge; try again"
	case errors.As(err, &c) && errors.Is(err, store.ErrFull):
		return http.StatusServiceUnavailable, c.what + ": the event queue is full; try again once it drains"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "request cancelled or timed out"
	}
	return http.StatusInternalServerError, "internal error"
}

// refusal is the reason the engine refused a command, the one it posted
// on the MR.
func refusal(err error) string {
	msg := err.Error()
	if _, reason, ok := strings.Cut(msg, engine.ErrRefused.Error()+": "); ok {
		return reason
	}
	return msg
}

func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := response(err)
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="trainyard"`)
	case http.StatusMethodNotAllowed:
		var mna methodNotAllowed
		if errors.As(err, &mna) {
			w.Header().Set("Allow", string(mna))
		}
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
	}
	if status >= 500 {
		s.Logger.Error("api call failed", zap.String("method", r.Method),
			zap.String("path", r.URL.EscapedPath()), zap.Error(err))
	}
	writeJSON(w, status, v1.Error{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
