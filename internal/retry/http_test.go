package retry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/forge"
)

func TestHTTPClassifier(t *testing.T) {
	transport := &url.Error{Op: "Get", URL: "https://forge.example", Err: errors.New("connection reset")}
	for _, tc := range []struct {
		name       string
		err        error
		ans        Answer
		idempotent bool
		again      bool
		atLeast    time.Duration
	}{
		{"server error", errAnswer, Answer{Status: 500}, false, true, 0},
		{"bad gateway asks to wait", errAnswer, Answer{Status: 503, RetryAfter: 2 * time.Second}, false, true, 2 * time.Second},
		{"not implemented", errAnswer, Answer{Status: 501}, true, false, 0},
		{"too many requests", errAnswer, Answer{Status: 429, RetryAfter: time.Second}, false, true, time.Second},
		{"too many requests, no wait", errAnswer, Answer{Status: 429}, false, true, 0},
		{"throttled 403", errAnswer, Answer{Status: 403, Throttled: true, RetryAfter: time.Minute}, false, true, time.Minute},
		{"forbidden", errAnswer, Answer{Status: 403}, true, false, 0},
		{"not found", errAnswer, Answer{Status: 404}, true, false, 0},
		{"refused", errAnswer, Answer{Status: 422, RetryAfter: time.Second}, true, false, 0},
		{"request timeout status", errAnswer, Answer{Status: 408}, true, false, 0},
		{"transport error, idempotent", transport, Answer{}, true, true, 0},
		{"transport error, not idempotent", transport, Answer{}, false, false, 0},
		{"wrapped transport error", fmt.Errorf("get: %w", transport), Answer{}, true, true, 0},
		{"attempt timeout, idempotent", context.DeadlineExceeded, Answer{}, true, true, 0},
		{"attempt timeout, not idempotent", context.DeadlineExceeded, Answer{}, false, false, 0},
		{"canceled", context.Canceled, Answer{}, true, false, 0},
		{"bad request built", errors.New("encode body"), Answer{}, true, false, 0},
	} {
		atLeast, again := HTTP(tc.idempotent)(tc.err, tc.ans)
		if again != tc.again || atLeast != tc.atLeast {
			t.Errorf("%s: HTTP(%v) = %v, %v; want %v, %v", tc.name, tc.idempotent, atLeast, again, tc.atLeast, tc.again)
		}
	}
}

func TestForgeError(t *testing.T) {
	for _, tc := range []struct {
		ans  Answer
		want error
	}{
		{Answer{Status: 404}, forge.ErrNotFound},
		{Answer{Status: 410}, forge.ErrNotFound},
		{Answer{Status: 422}, forge.ErrRejected},
		{Answer{Status: 403}, forge.ErrRejected},
		{Answer{Status: 401}, forge.ErrUnauthorized},
		{Answer{Status: 403, Throttled: true}, errAnswer},
		{Answer{Status: 429}, errAnswer},
		{Answer{Status: 408}, errAnswer},
		{Answer{Status: 500}, errAnswer},
		{Answer{}, errAnswer},
	} {
		err := ForgeError(tc.ans, errAnswer)
		if !errors.Is(err, tc.want) {
			t.Errorf("ForgeError(%+v) = %v, want %v", tc.ans, err, tc.want)
		}
		if tc.want != forge.ErrRejected && errors.Is(err, forge.ErrRejected) {
			t.Errorf("ForgeError(%+v) = %v, a refusal for good", tc.ans, err)
		}
		if (tc.want == forge.ErrRejected || tc.want == forge.ErrUnauthorized) && !errors.Is(err, errAnswer) {
			t.Errorf("ForgeError(%+v) = %v lost the forge's answer", tc.ans, err)
		}
	}
	for _, code := range []int{400, 405, 409, 422} {
		if err := ForgeError(Answer{Status: code}, errAnswer); errors.Is(err, forge.ErrForbidden) {
			t.Errorf("ForgeError(%d) = %v, forbidden", code, err)
		}
	}
	if err := ForgeError(Answer{Status: 403}, errAnswer); !errors.Is(err, forge.ErrForbidden) || !errors.Is(err, forge.ErrRejected) {
		t.Errorf("ForgeError(403) = %v, want forbidden and rejected", err)
	}
	if err := ForgeError(Answer{Status: 403, Throttled: true}, errAnswer); errors.Is(err, forge.ErrForbidden) {
		t.Errorf("ForgeError(throttled 403) = %v, forbidden", err)
	}
	said := ForgeError(Answer{Status: 400, Said: "Reference not found"}, errAnswer)
	if !errors.Is(said, forge.ErrRejected) || !errors.Is(said, errAnswer) || forge.Said(said) != "Reference not found" {
		t.Errorf("a refusal with words = %v, said %q", said, forge.Said(said))
	}
	if forge.Said(ForgeError(Answer{Status: 400}, errAnswer)) != "" || forge.Said(ForgeError(Answer{Status: 500, Said: "x"}, errAnswer)) != "" {
		t.Error("words where the forge refused nothing, or said nothing")
	}
	if err := ForgeError(Answer{Status: 404}, nil); err != nil {
		t.Errorf("ForgeError of a success = %v", err)
	}
}

func TestHTTPRulesEndToEnd(t *testing.T) {
	p := policy()
	p.Classify = HTTP(true)
	for _, tc := range []struct {
		ans  Answer
		want error
	}{{Answer{Status: 404}, forge.ErrNotFound}, {Answer{Status: 422}, forge.ErrRejected}} {
		calls := 0
		err := p.Do(context.Background(), func(context.Context) (Answer, error) {
			calls++
			return tc.ans, ForgeError(tc.ans, errAnswer)
		})
		if !errors.Is(err, tc.want) || errors.Is(err, ErrGaveUp) || calls != 1 {
			t.Errorf("%d: %v after %d calls, want %v after 1", tc.ans.Status, err, calls, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {"0", 0}, {"-2", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.v != "" {
			h.Set("Retry-After", tt.v)
		}
		if got := RetryAfter(h, now); got != tt.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
