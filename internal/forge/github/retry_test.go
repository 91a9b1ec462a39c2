package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v82/github"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/ratelimit"
	"github.com/trainyard/trainyard/internal/retry"
)

// bodies lists the comments' bodies, and fails on a repeat.
func bodies(t *testing.T, f *fakeforge.Forge, iid int64) []string {
	t.Helper()
	notes, err := f.Notes(project, iid)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range notes {
		if seen[n.Body] {
			t.Fatalf("comment %q posted twice", n.Body)
		}
		seen[n.Body] = true
		out = append(out, n.Body)
	}
	return out
}

func TestSecondaryRateLimitSlowsAndLosesNothing(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	f.SetFaults(fakeforge.Faults{SecondaryRateLimitRate: 0.25, RateLimitRate: 0.15, RetryAfter: 1})
	start := time.Now()
	for i := range 4 {
		if err := c.Comment(ctx, project, mr.IID, fmt.Sprint("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	f.SetFaults(fakeforge.Faults{})
	if got := bodies(t, f, mr.IID); len(got) != 4 || got[3] != "c3" {
		t.Fatalf("comments %v", got)
	}
	faults := f.FaultCounts()
	limited := faults[fakeforge.FaultSecondaryRateLimit] + faults[fakeforge.FaultRateLimited]
	if limited == 0 {
		t.Fatalf("no rate limit injected: %v", faults)
	}
	if took < time.Duration(limited)*time.Second {
		t.Fatalf("%d rate limits of Retry-After: 1 took only %v", limited, took)
	}
}

func TestPrimaryRateLimitWaitsForTheReset(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	f.SetFaults(fakeforge.Faults{PrimaryRateLimitRate: 1, RetryAfter: 1})
	lift := time.AfterFunc(200*time.Millisecond, func() { f.SetFaults(fakeforge.Faults{}) })
	defer lift.Stop()
	start := time.Now()
	var wg sync.WaitGroup
	var other time.Duration
	wg.Go(func() {
		// A call made while the limit holds waits too, without asking.
		time.Sleep(300 * time.Millisecond)
		s := time.Now()
		if _, err := c.MergeRequest(ctx, project, 1); !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("concurrent call: %v", err)
		}
		other = time.Since(s)
	})
	head, err := c.BranchHead(ctx, project, "main")
	wg.Wait()
	if err != nil || head == "" {
		t.Fatalf("BranchHead after the reset: %q, %v", head, err)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("retried after %v, before X-RateLimit-Reset", took)
	}
	if other < 300*time.Millisecond {
		t.Fatalf("a call during the limit went out after %v", other)
	}
	if calls := f.Calls()["GET /repos/{owner}/{repo}/pulls/{pull_number}"]; calls != 1 {
		t.Fatalf("the held call was sent %d times", calls)
	}
}

func TestRateLimitBeyondTheBudgetGivesUpAtOnce(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.Faults = fakeforge.Faults{SecondaryRateLimitRate: 1, RetryAfter: 30} })
	c := newClient(t, f, func(o *Options) { o.MaxWait = time.Second })
	start := time.Now()
	_, err := c.BranchHead(context.Background(), project, "main")
	if !errors.Is(err, retry.ErrGaveUp) || errors.Is(err, forge.ErrRejected) || !strings.Contains(err.Error(), "secondary rate limit") {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("waited %v for a Retry-After beyond the budget", took)
	}
	// Later calls do not even ask while the limit holds.
	if _, err := c.BranchHead(context.Background(), project, "main"); !errors.Is(err, retry.ErrGaveUp) {
		t.Fatalf("second call: %v", err)
	}
	if calls := f.Calls()["GET /repos/{owner}/{repo}/git/ref/{ref...}"]; calls != 1 {
		t.Fatalf("%d requests", calls)
	}
}

func TestWriteBudget(t *testing.T) {
	f := newForge(t, nil)
	var asked []ratelimit.Window
	c := newClient(t, f, func(o *Options) {
		o.Budget = func(ws ...ratelimit.Window) ratelimit.Limiter {
			asked = ws
			return ratelimit.NewLocal(ratelimit.Window{N: 3, Per: 400 * time.Millisecond}, ratelimit.Window{N: 5, Per: time.Hour})
		}
	})
	if want := []ratelimit.Window{{N: 80, Per: time.Minute}, {N: 500, Per: time.Hour}}; !slices.Equal(asked, want) {
		t.Errorf("budget windows %v, want GitHub's secondary limits %v", asked, want)
	}
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	start := time.Now()
	for i := range 5 {
		if err := c.Comment(ctx, project, mr.IID, fmt.Sprint("c", i)); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Fatalf("5 writes at 3 per 400ms took %v", took)
	}
	// Reads are not budgeted; the hourly window is spent.
	if _, err := c.Notes(ctx, project, mr.IID); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err := c.Comment(short, project, mr.IID, "one too many")
	if !errors.Is(err, retry.ErrGaveUp) || !strings.Contains(err.Error(), "write budget") {
		t.Fatalf("sixth write: %v", err)
	}
	if got := bodies(t, f, mr.IID); len(got) != 5 {
		t.Fatalf("comments %v", got)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	f := newForge(t, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	c := newClient(t, f, nil)
	want, err := c.MergeRequest(ctx, project, mr.IID)
	if err != nil {
		t.Fatal(err)
	}
	f.SetFaults(fakeforge.Faults{ServerErrorRate: 0.4, RetryAfter: 0})
	for range 10 {
		if got, err := c.MergeRequest(ctx, project, mr.IID); err != nil || got != want {
			t.Fatalf("through faults: %+v, %v", got, err)
		}
	}
	if f.FaultCounts()[fakeforge.FaultServerError] == 0 {
		t.Fatal("no fault injected")
	}
	f.SetFaults(fakeforge.Faults{ServerErrorRate: 1})
	g := newClient(t, f, func(o *Options) { o.MaxWait = 200 * time.Millisecond })
	if _, err := g.MergeRequest(ctx, project, mr.IID); !errors.Is(err, retry.ErrGaveUp) || !strings.Contains(err.Error(), "acme/widgets#1") {
		t.Fatalf("always failing: %v", err)
	}
}

func TestRefusalsAreNotRetried(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	err := c.Comment(context.Background(), project, mr.IID, "  ")
	if !errors.Is(err, forge.ErrRejected) || errors.Is(err, retry.ErrGaveUp) || !strings.Contains(err.Error(), "422") {
		t.Fatalf("empty comment: %v", err)
	}
	if calls := f.Calls()["POST /repos/{owner}/{repo}/issues/{issue_number}/comments"]; calls != 1 {
		t.Fatalf("%d calls, want 1: a refusal is not retried", calls)
	}
}

func TestTokenNeverLoggedOrInErrors(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	f := newForge(t, func(o *fakeforge.Options) { o.Faults = fakeforge.Faults{ServerErrorRate: 1} })
	c := newClient(t, f, func(o *Options) { o.Logger = zap.New(core); o.MaxWait = 100 * time.Millisecond })
	_, err1 := c.MergeRequest(context.Background(), project, 1)
	f.SetFaults(fakeforge.Faults{})
	bad := newClient(t, f, func(o *Options) { o.Token = token + "-revoked" })
	_, err2 := bad.MergeRequest(context.Background(), project, 1)
	for _, err := range []error{err1, err2} {
		if err == nil || strings.Contains(err.Error(), token) {
			t.Fatalf("error %v is nil or holds the token", err)
		}
	}
	if !strings.Contains(err2.Error(), "401") || !errors.Is(err2, forge.ErrUnauthorized) || errors.Is(err2, forge.ErrRejected) {
		t.Fatalf("bad token: %v", err2)
	}
	if logs.Len() == 0 {
		t.Fatal("no retry was logged")
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		if strings.Contains(line, token) {
			t.Fatalf("log holds the token: %s", line)
		}
	}
}

// TestTooManyRequestsWithoutAWaitBacksOff: a 429 with Retry-After: 0 is
// retried after the usual backoff and holds no other call back. (The
// minute GitHub asks for is for a secondary limit that names no wait.)
func TestTooManyRequestsWithoutAWaitBacksOff(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	f.SetFaults(fakeforge.Faults{RateLimitRate: 1, RetryAfter: 0})
	lift := time.AfterFunc(100*time.Millisecond, func() { f.SetFaults(fakeforge.Faults{}) })
	defer lift.Stop()
	start := time.Now()
	head, err := c.BranchHead(context.Background(), project, "main")
	if err != nil || head == "" {
		t.Fatalf("BranchHead through 429s: %q, %v", head, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v for a limit lifted after 100ms", took)
	}
	if f.FaultCounts()[fakeforge.FaultRateLimited] < 2 {
		t.Fatalf("faults %v, want several 429s", f.FaultCounts())
	}
	c.gate.mu.Lock()
	until := c.gate.until
	c.gate.mu.Unlock()
	if time.Until(until) > 0 {
		t.Fatalf("the gate holds every call until %v after a 429 without a wait", until)
	}
}

// TestAnswerOf reads real go-github errors for each way GitHub says
// "wait".
func TestAnswerOf(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	const secondaryDocs = `{"message":"You have exceeded a secondary rate limit.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`
	for _, tc := range []struct {
		name   string
		status int
		header []string
		body   string
		want   string
	}{
		{"primary limit", 403, []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1700000010"}, `{"message":"API rate limit exceeded"}`, "403 true 11s"},
		{"secondary limit", 403, []string{"Retry-After", "7"}, secondaryDocs, "403 true 7s"},
		{"secondary limit without a wait", 403, nil, secondaryDocs, "403 true 1m0s"},
		{"too many requests", 429, []string{"Retry-After", "3"}, secondaryDocs, "429 true 3s"},
		{"too many requests, Retry-After 0", 429, []string{"Retry-After", "0"}, secondaryDocs, "429 true 0s"},
		{"too many requests, no Retry-After", 429, nil, `{"message":"slow down"}`, "429 true 0s"},
		{"too many requests, primary", 429, []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1700000020"}, `{"message":"API rate limit exceeded"}`, "429 true 21s"},
		{"forbidden", 403, nil, `{"message":"Resource not accessible by integration"}`, "403 false 0s"},
		{"unavailable", 503, []string{"Retry-After", "2"}, `{"message":"unavailable"}`, "503 false 2s"},
		{"not found", 404, nil, `{"message":"Not Found"}`, "404 false 0s"},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tc.body)),
			Request: httptest.NewRequest(http.MethodGet, "https://api.github.com/repos/acme/widgets", nil)}
		for i := 0; i < len(tc.header); i += 2 {
			resp.Header.Set(tc.header[i], tc.header[i+1])
		}
		err := gh.CheckResponse(resp)
		if err == nil {
			t.Fatalf("%s: no error from a %d", tc.name, tc.status)
		}
		ans := answerOf(&gh.Response{Response: resp}, err, now)
		if got := fmt.Sprintf("%d %t %v", ans.Status, ans.Throttled, ans.RetryAfter); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// A refusal keeps GitHub's words: the first error's, which says more
	// than "Validation Failed".
	for body, want := range map[string]string{
		`{"message":"Validation Failed","errors":[{"resource":"IssueComment","code":"unprocessable","field":"data","message":"Body is too long (maximum is 65536 characters)"}]}`: "Body is too long (maximum is 65536 characters)",
		`{"message":"Resource not accessible by integration"}`: "Resource not accessible by integration",
	} {
		resp := &http.Response{StatusCode: 422, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)),
			Request: httptest.NewRequest(http.MethodPost, "https://api.github.com/repos/acme/widgets/issues/1/comments", nil)}
		if got := answerOf(&gh.Response{Response: resp}, gh.CheckResponse(resp), now).Said; got != want {
			t.Errorf("said %q, want %q", got, want)
		}
	}
	if ans := answerOf(nil, &url.Error{Op: "Get", URL: "https://api.github.com", Err: io.ErrUnexpectedEOF}, now); ans != (retry.Answer{}) {
		t.Errorf("transport error: %+v, want no answer", ans)
	}
}
