package fakeforge

import (
	"net/http"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

func TestInjectedFaults(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	c := client(t, f, botToken)
	const route = "GET /projects/{id}"

	f.SetFaults(Faults{ServerErrorRate: 1})
	_, resp, err := c.Projects.GetProject(project1, nil)
	if err == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("with 500 faults: %v", err)
	}

	f.SetFaults(Faults{RateLimitRate: 1, RetryAfter: 3})
	_, resp, err = c.Projects.GetProject(project1, nil)
	if err == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("with 429 faults: %v, Retry-After %q", err, resp.Header.Get("Retry-After"))
	}

	f.SetFaults(Faults{ServerErrorRate: 0.5})
	ok := 0
	for range 40 {
		if _, _, err := c.Projects.GetProject(project1, nil); err == nil {
			ok++
		}
	}
	faults := f.FaultCounts()
	if faults[FaultServerError]+ok != 41 || faults[FaultRateLimited] != 1 || ok < 5 || ok > 35 {
		t.Fatalf("faults %v with %d successes of 40", faults, ok)
	}
	if calls := f.Calls()[route]; calls != 42 {
		t.Fatalf("calls to %s = %d, want 42", route, calls)
	}

	f.SetFaults(Faults{Latency: 50 * time.Millisecond})
	start := time.Now()
	if _, _, err := c.Projects.GetProject(project1, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("call with 50ms latency took %v", d)
	}
}

func TestFaultsAreSeeded(t *testing.T) {
	pattern := func() []bool {
		f := newForge(t, func(o *Options) { o.Seed = 11; o.Faults = Faults{ServerErrorRate: 0.3} })
		mustProject(t, f, project1, nil)
		c := client(t, f, botToken)
		var out []bool
		for range 30 {
			_, _, err := c.Projects.GetProject(project1, nil)
			out = append(out, err == nil)
		}
		return out
	}
	a, b := pattern(), pattern()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: %v then %v with the same seed", i, a[i], b[i])
		}
	}
}

func TestRealClientRetriesThroughFaults(t *testing.T) {
	f := newForge(t, func(o *Options) { o.Faults = Faults{RateLimitRate: 0.3, RetryAfter: 0} })
	mustProject(t, f, project1, nil)
	c, err := gitlab.NewClient(botToken, gitlab.WithBaseURL(f.URL()+"/api/v4"), gitlab.WithCustomRetryWaitMinMax(time.Millisecond, 2*time.Millisecond), gitlab.WithCustomRetryMax(20))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, _, err := c.Projects.GetProject(project1, nil); err != nil {
			t.Fatal(err)
		}
	}
	if f.FaultCounts()[FaultRateLimited] == 0 {
		t.Fatal("no fault injected at rate 0.3 over 10 calls")
	}
}
