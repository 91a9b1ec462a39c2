package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/webhook"
)

const secret = "loadgen-secret"

// listener serves the real webhook handler on a real Redis store.
func listener(t *testing.T) (string, *store.Store) {
	t.Helper()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	h, err := webhook.New(webhook.Options{GitLabSecret: secret, DisableGitHub: true, Queue: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + webhook.GitLabPath, st
}

func notePayload(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/gitlab/note_hook_merge_request.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// queuedEvents drains the stream and counts its events.
func queuedEvents(t *testing.T, st *store.Store) int {
	t.Helper()
	ctx := context.Background()
	if err := st.EnsureGroup(ctx, "count"); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		evs, err := st.ReadEvents(ctx, "count", "c", 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return n
		}
		n += len(evs)
	}
}

func TestRunCount(t *testing.T) {
	t.Parallel()
	target, st := listener(t)
	const count = 300
	res, err := Run(context.Background(), Options{URL: target, Secret: secret, Payload: notePayload(t), Concurrency: 8, Count: count})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != count || res.OK != count || res.Errors != 0 || res.Codes[http.StatusAccepted] != count {
		t.Fatalf("result %+v, want %d sent and answered 202", res, count)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.PerSecond <= 0 {
		t.Fatalf("result %+v: want 0 < p50 <= p99 and a positive rate", res)
	}
	if got := queuedEvents(t, st); got != count {
		t.Fatalf("stream holds %d events, want %d: every delivery id must be fresh", got, count)
	}
}

func TestRunDuration(t *testing.T) {
	t.Parallel()
	target, st := listener(t)
	res, err := Run(context.Background(), Options{URL: target, Secret: secret, Payload: notePayload(t), Concurrency: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent == 0 || res.Errors != 0 || res.Elapsed < 200*time.Millisecond || res.Elapsed > 5*time.Second {
		t.Fatalf("result %+v, want deliveries for about 200ms without errors", res)
	}
	if got := queuedEvents(t, st); got != res.OK {
		t.Fatalf("stream holds %d events, want %d", got, res.OK)
	}
}

func TestRunCountsRefusals(t *testing.T) {
	t.Parallel()
	target, st := listener(t)
	res, err := Run(context.Background(), Options{URL: target, Secret: "wrong", Payload: notePayload(t), Count: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 20 || res.OK != 0 || res.Errors != 20 || res.Codes[http.StatusUnauthorized] != 20 {
		t.Fatalf("result %+v, want 20 answered 401", res)
	}
	if got := queuedEvents(t, st); got != 0 {
		t.Fatalf("stream holds %d events, want none", got)
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	t.Parallel()
	p := []byte("{}")
	cases := []struct {
		name string
		opts Options
		want error
	}{
		{"private address", Options{URL: "http://10.0.0.1/webhooks/gitlab", Payload: p, Count: 1}, ErrNotLoopback},
		{"public name", Options{URL: "http://gitlab.example.com/webhooks/gitlab", Payload: p, Count: 1}, ErrNotLoopback},
		{"no bound", Options{URL: "http://127.0.0.1:1/", Payload: p}, ErrUnbounded},
		{"too long", Options{URL: "http://127.0.0.1:1/", Payload: p, Duration: time.Hour}, ErrUnbounded},
		{"too many", Options{URL: "http://[::1]:1/", Payload: p, Count: MaxCount + 1}, ErrUnbounded},
	}
	for _, c := range cases {
		if _, err := Run(context.Background(), c.opts); !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := Run(context.Background(), Options{URL: "http://localhost:1/", Count: 1}); err == nil {
		t.Error("no payload: no error")
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p50, p99, p100 := Percentile(d, 0.5), Percentile(d, 0.99), Percentile(d, 1); p50 != 50 || p99 != 99 || p100 != 100 {
		t.Fatalf("p50 %d, p99 %d, p100 %d; want 50, 99, 100", p50, p99, p100)
	}
	if got := Percentile(nil, 0.99); got != 0 {
		t.Fatalf("percentile of nothing: %d", got)
	}
}
