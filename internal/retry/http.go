package retry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
)

// HTTP is the classifier of a forge's HTTP API. Throttled, 429 and 5xx
// answers (but 501) are retried for every request, after at least their
// Retry-After; transport errors and timeouts only when the request is
// idempotent, because one that reached the server may have taken effect.
// Any other answer will not change on a retry.
func HTTP(idempotent bool) Classifier {
	return func(err error, ans Answer) (time.Duration, bool) {
		switch code := ans.Status; {
		case ans.Throttled, code == http.StatusTooManyRequests, code >= 500 && code != http.StatusNotImplemented:
			return ans.RetryAfter, true
		case code != 0:
			return 0, false
		}
		var ue *url.Error
		return 0, idempotent && (errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded))
	}
}

// ForgeError maps a forge's answer onto the errors the engine decides by:
// 404 and 410 are forge.ErrNotFound, 401 forge.ErrUnauthorized, any other
// 4xx but 408, 429 and a throttled answer forge.ErrRejected, and a 403
// forge.ErrForbidden as well. HTTP retries none of those, so a call that
// ends on one ends with the mapped error. Other errors are returned as
// they are.
func ForgeError(ans Answer, err error) error {
	if err == nil {
		return nil
	}
	switch code := ans.Status; {
	case code == http.StatusNotFound, code == http.StatusGone:
		return forge.ErrNotFound
	case code == http.StatusUnauthorized:
		return fmt.Errorf("%w: %w", forge.ErrUnauthorized, err)
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests && !ans.Throttled:
		if code == http.StatusForbidden {
			err = fmt.Errorf("%w: %w", forge.ErrForbidden, err)
		}
		return &forge.Refusal{Said: ans.Said, Err: fmt.Errorf("%w: %w", forge.ErrRejected, err)}
	}
	return err
}

// RetryAfter reads the Retry-After header of h, in seconds or as an HTTP
// date relative to now; zero when absent, unreadable or past.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// LogRetries is an OnRetry that logs each retry of op at debug level:
// retries are routine; the call's final error is the caller's to report.
func LogRetries(log *zap.Logger, op string) func(Retry) {
	return func(r Retry) {
		log.Debug("call failed, retrying", zap.String("op", op), zap.Int("attempt", r.Attempt),
			zap.Duration("wait", r.Wait), zap.Int("status", r.Answer.Status), zap.Error(r.Err))
	}
}
