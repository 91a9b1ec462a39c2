package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestErrorsNeverNameTheURL: the URL is the webhook's credential, so no
// failure may print it, whatever went wrong.
func TestErrorsNeverNameTheURL(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/echo", func(w http.ResponseWriter, r *http.Request, _ int) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "no hook at %s", rc.srv.URL+r.URL.Path)
	})
	rc.answer("/redirect", func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, "/loop"+secretPath, http.StatusTemporaryRedirect)
	})
	rc.answer("/loop"+secretPath, func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
	})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name string
		url  Secret
		want string
	}{
		{"status echoing the URL", rc.url("/echo"), "webhook answered 404 Not Found: no hook at [redacted]"},
		{"connection refused", Secret(closed.URL + secretPath), `Post "[redacted]": dial tcp`},
		{"redirect loop", rc.url("/redirect"), `Post "[redacted]": stopped after 10 redirects`},
		{"bad URL", Secret("http://h.example.com/%zz" + secretPath), "build webhook request: invalid webhook URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Slack{Webhook: Webhook{URL: tc.url}}.Send(t.Context(), Message{Text: "x"})
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if msg := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(msg, "s3cr3t") {
				t.Errorf("error carries the secret: %s", msg)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to start %q", err, tc.want)
			}
		})
	}
}

// leakyTransport fails every request with an error that quotes its URL,
// as some wrapping transports do.
type leakyTransport struct{}

func (leakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("instrumented %s: %w", r.URL, context.DeadlineExceeded)
}

func TestTransportErrorQuotingTheURL(t *testing.T) {
	hook := Webhook{URL: "https://hooks.example.com" + secretPath, Client: &http.Client{Transport: leakyTransport{}}}
	err := Mattermost{Webhook: hook}.Send(t.Context(), Message{Text: "x"})
	want := `Post "[redacted]": instrumented [redacted]: context deadline exceeded`
	if err == nil || err.Error() != want || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want %q wrapping context.DeadlineExceeded", err, want)
	}
}

func TestTransportErrorsKeepTheirCause(t *testing.T) {
	rc := newReceiver(t)
	rc.answer("/slow", func(_ http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() })
	err := Slack{Webhook: Webhook{URL: rc.url("/slow"), Timeout: 20 * time.Millisecond}}.Send(t.Context(), Message{Text: "x"})
	var ue *url.Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ue) || ue.URL != "[redacted]" || !ue.Timeout() {
		t.Fatalf("Send = %v, want a redacted *url.Error timing out", err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("https://hooks.example.com" + secretPath)
	js, err := json.Marshal(struct{ URL Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	r := Route{Kind: KindSlack, URL: s}
	for _, got := range []string{fmt.Sprint(s), fmt.Sprintf("%s|%v|%q|%x|%#v|%+v", s, s, s, s, s, r), string(js)} {
		if strings.Contains(got, "s3cr3t") || !strings.Contains(got, "[redacted]") {
			t.Errorf("printed secret = %q", got)
		}
	}
	if got := Secret("").String(); got != "" {
		t.Errorf("empty secret prints %q, want nothing", got)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err     error
		again   bool
		atLeast time.Duration
	}{
		{&StatusError{Code: 429, RetryAfter: 3 * time.Second}, true, 3 * time.Second},
		{&StatusError{Code: 503, RetryAfter: 2 * time.Second}, true, 2 * time.Second},
		{&StatusError{Code: 500}, true, 0},
		{&StatusError{Code: 501}, true, 0},
		{fmt.Errorf("wrapped: %w", &StatusError{Code: 502}), true, 0},
		{&StatusError{Code: 400, RetryAfter: time.Second}, false, 0},
		{&StatusError{Code: 404}, false, 0},
		{&url.Error{Op: "Post", URL: redacted, Err: errors.New("connection reset")}, true, 0},
		{errors.New("encode webhook payload: bad"), false, 0},
	} {
		atLeast, again := classify(tc.err)
		if again != tc.again || (again && atLeast != tc.atLeast) {
			t.Errorf("classify(%v) = %v, %v; want retry %v after at least %v", tc.err, atLeast, again, tc.again, tc.atLeast)
		}
	}
}

// TestRetryWaits: each wait is drawn below a ceiling that doubles with
// each failure in a row up to Max, and is never zero.
func TestRetryWaits(t *testing.T) {
	r := Retry{Base: 4 * time.Millisecond, Max: 20 * time.Millisecond}.withDefaults()
	for _, tc := range []struct {
		failures int
		ceil     time.Duration
	}{{1, 4 * time.Millisecond}, {2, 8 * time.Millisecond}, {3, 16 * time.Millisecond}, {4, 20 * time.Millisecond}, {40, 20 * time.Millisecond}} {
		var most time.Duration
		for range 2000 {
			w := r.wait(tc.failures)
			if w <= 0 || w > tc.ceil {
				t.Fatalf("wait after %d failures = %v, want in (0, %v]", tc.failures, w, tc.ceil)
			}
			most = max(most, w)
		}
		// 2000 draws all in the lower half would be a broken jitter.
		if most <= tc.ceil/2 {
			t.Errorf("waits after %d failures reach only %v of %v", tc.failures, most, tc.ceil)
		}
	}
	if d := (Retry{}).withDefaults(); d.Base != time.Second || d.Max != 5*time.Minute {
		t.Errorf("defaults = %+v, want 1s and 5m", d)
	}
}
