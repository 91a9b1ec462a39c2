package gitlab

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/ratelimit"
	"github.com/trainyard/trainyard/internal/retry"
)

func TestRetriesReachTheSameResult(t *testing.T) {
	f := newForge(t, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	clean := newClient(t, f, nil)
	want, err := clean.MergeRequest(ctx, project, mr.IID)
	if err != nil {
		t.Fatal(err)
	}
	f.SetFaults(fakeforge.Faults{ServerErrorRate: 0.3, RateLimitRate: 0.3, RetryAfter: 0})
	c := newClient(t, f, nil)
	for range 20 {
		got, err := c.MergeRequest(ctx, project, mr.IID)
		if err != nil || got != want {
			t.Fatalf("MergeRequest through faults = %+v, %v; want %+v", got, err, want)
		}
	}
	for i := range 5 {
		if err := c.Comment(ctx, project, mr.IID, "n"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	notes, err := c.Notes(ctx, project, mr.IID)
	if err != nil || len(notes) != 5 {
		t.Fatalf("Notes through faults: %d, %v", len(notes), err)
	}
	faults := f.FaultCounts()
	if faults[fakeforge.FaultServerError] == 0 || faults[fakeforge.FaultRateLimited] == 0 {
		t.Fatalf("no faults injected: %v", faults)
	}
}

func TestGivesUpWhenTheForgeAlwaysFails(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.Faults = fakeforge.Faults{ServerErrorRate: 1} })
	c := newClient(t, f, func(o *Options) {
		o.MaxWait, o.BackoffBase, o.BackoffMax = 300*time.Millisecond, 10*time.Millisecond, 40*time.Millisecond
	})
	start := time.Now()
	_, err := c.MergeRequest(context.Background(), project, 1)
	took := time.Since(start)
	if !errors.Is(err, retry.ErrGaveUp) || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "get MR acme/widgets!1") {
		t.Fatalf("err = %v, want ErrGaveUp naming the MR and the 500", err)
	}
	if took > 2*time.Second {
		t.Fatalf("gave up after %v with MaxWait 300ms", took)
	}
	if calls := f.Calls()["GET /projects/{id}/merge_requests/{iid}"]; calls < 3 {
		t.Fatalf("only %d attempts in 300ms", calls)
	}
}

func TestRetryAfterBeyondBudgetGivesUpAtOnce(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.Faults = fakeforge.Faults{RateLimitRate: 1, RetryAfter: 30} })
	c := newClient(t, f, func(o *Options) { o.MaxWait = time.Second })
	start := time.Now()
	_, err := c.BranchHead(context.Background(), project, "main")
	if !errors.Is(err, retry.ErrGaveUp) || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("waited %v for a Retry-After beyond the budget", took)
	}
	if calls := f.Calls()["GET /projects/{id}/repository/branches/{branch}"]; calls != 1 {
		t.Fatalf("%d attempts", calls)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	f.SetFaults(fakeforge.Faults{RateLimitRate: 1, RetryAfter: 1})
	go func() {
		time.Sleep(100 * time.Millisecond)
		f.SetFaults(fakeforge.Faults{})
	}()
	start := time.Now()
	if _, err := c.BranchHead(context.Background(), project, "main"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("retried after %v despite Retry-After: 1", took)
	}
}

func TestCallerDeadlineIsRespected(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.Faults = fakeforge.Faults{Latency: 3 * time.Second} })
	c := newClient(t, f, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.MergeRequest(ctx, project, 1)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, retry.ErrGaveUp) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("returned after %v with a 100ms deadline", took)
	}
}

func TestEachRequestHasATimeout(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.Faults = fakeforge.Faults{Latency: 2 * time.Second} })
	c := newClient(t, f, func(o *Options) { o.Timeout, o.MaxWait = 50*time.Millisecond, 400*time.Millisecond })
	start := time.Now()
	_, err := c.Pipeline(context.Background(), project, 1)
	if !errors.Is(err, retry.ErrGaveUp) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrGaveUp after request timeouts", err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("took %v", took)
	}
	if calls := f.Calls()["GET /projects/{id}/pipelines/{pipeline_id}"]; calls < 2 {
		t.Fatalf("%d attempts of a GET that timed out", calls)
	}
}

// TestTransportErrorsRetryOnlyIdempotentCalls points the client at a
// server that hangs up on every connection.
func TestTransportErrorsRetryOnlyIdempotentCalls(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			conn.Close()
		}
	}()
	c, err := New(Options{BaseURL: "http://" + ln.Addr().String(), Token: token, MaxWait: 200 * time.Millisecond, BackoffBase: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Comment(ctx, project, 1, "x"); err == nil || errors.Is(err, retry.ErrGaveUp) {
		t.Fatalf("POST on a broken connection: %v, want one failed attempt", err)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("POST made %d connections", n)
	}
	if _, err := c.BranchHead(ctx, project, "main"); !errors.Is(err, retry.ErrGaveUp) {
		t.Fatalf("GET on a broken connection: %v, want ErrGaveUp", err)
	}
	if n := conns.Load(); n < 3 {
		t.Fatalf("GET retried only %d times", n-1)
	}
}

func TestTokenNeverLoggedOrInErrors(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	f := newForge(t, func(o *fakeforge.Options) { o.Faults = fakeforge.Faults{ServerErrorRate: 1} })
	c := newClient(t, f, func(o *Options) { o.Logger = zap.New(core); o.MaxWait = 100 * time.Millisecond })
	var errs []error
	_, err := c.MergeRequest(context.Background(), project, 1)
	errs = append(errs, err)
	f.SetFaults(fakeforge.Faults{})
	bad, err := New(Options{BaseURL: f.URL(), Token: token + "-revoked"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.MergeRequest(context.Background(), project, 1)
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil || strings.Contains(err.Error(), token) {
			t.Fatalf("error %v is nil or holds the token", err)
		}
	}
	if !strings.Contains(errs[1].Error(), "401") {
		t.Fatalf("bad token error = %v", errs[1])
	}
	if logs.Len() == 0 {
		t.Fatal("no retry was logged")
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + toString(v)
		}
		if strings.Contains(line, token) {
			t.Fatalf("log holds the token: %s", line)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return ""
}

func TestTokenFromEnvOrFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)

	t.Setenv("TY_TOKEN", " env-token \n")
	if got, err := TokenFromEnvOrFile("TY_TOKEN", file); err != nil || got != "env-token" {
		t.Fatalf("from env: %q, %v", got, err)
	}
	t.Setenv("TY_TOKEN", "")
	if got, err := TokenFromEnvOrFile("TY_TOKEN", file); err != nil || got != "file-token" {
		t.Fatalf("from file: %q, %v", got, err)
	}
	for name, path := range map[string]string{"empty": empty, "missing": filepath.Join(dir, "none"), "unset": ""} {
		_, err := TokenFromEnvOrFile("TY_TOKEN", path)
		if err == nil || strings.Contains(err.Error(), "file-token") {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// Replicas on one budget send no more requests, between them, than it
// allows; a call that would wait past its deadline for room gives up
// without sending anything.
func TestRequestBudgetIsShared(t *testing.T) {
	f := newForge(t, nil)
	var asked []ratelimit.Window
	shared := ratelimit.NewLocal(ratelimit.Window{N: 3, Per: time.Minute})
	budget := func(ws ...ratelimit.Window) ratelimit.Limiter {
		asked = ws
		return shared
	}
	a := newClient(t, f, func(o *Options) { o.RequestsPerMinute, o.Budget = 3, budget })
	b := newClient(t, f, func(o *Options) { o.RequestsPerMinute, o.Budget = 3, budget })
	if want := []ratelimit.Window{{N: 3, Per: time.Minute}}; !slices.Equal(asked, want) {
		t.Errorf("budget windows %v, want %v", asked, want)
	}
	ctx := context.Background()
	for _, c := range []*Client{a, b, a} {
		if _, err := c.BranchHead(ctx, project, "main"); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := b.BranchHead(short, project, "main")
	if !errors.Is(err, retry.ErrGaveUp) || !strings.Contains(err.Error(), "request budget") || short.Err() != nil {
		t.Fatalf("fourth request: %v", err)
	}
	if calls := f.Calls()["GET /projects/{id}/repository/branches/{branch}"]; calls != 3 {
		t.Fatalf("%d requests sent", calls)
	}
}

func TestNoRequestBudgetByDefault(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, func(o *Options) {
		o.Budget = func(...ratelimit.Window) ratelimit.Limiter {
			t.Error("a budget was built without requests_per_minute")
			return nil
		}
	})
	for range 5 {
		if _, err := c.BranchHead(context.Background(), project, "main"); err != nil {
			t.Fatal(err)
		}
	}
}
