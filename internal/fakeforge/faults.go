package fakeforge

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault kinds counted by FaultCounts.
const (
	FaultServerError = "500"
	FaultRateLimited = "429"
	// GitHub's 403 rate-limit answers.
	FaultPrimaryRateLimit   = "403 primary"
	FaultSecondaryRateLimit = "403 secondary"
)

// counters counts API calls per route ("GET /projects/{id}") and injected
// faults per kind.
type counters struct {
	mu     sync.Mutex
	calls  map[string]int
	faults map[string]int
}

func (c *counters) init() {
	c.calls = map[string]int{}
	c.faults = map[string]int{}
}

func (c *counters) call(route string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[route]++
}

func (c *counters) fault(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults[kind]++
}

// Calls returns how many REST calls each route received, keyed by method
// and route pattern, e.g. "GET /projects/{id}/merge_requests/{iid}".
// Calls answered with an injected fault count too.
func (f *Forge) Calls() map[string]int {
	f.calls.mu.Lock()
	defer f.calls.mu.Unlock()
	return maps.Clone(f.calls.calls)
}

// FaultCounts returns how many faults of each kind (FaultServerError,
// FaultRateLimited, ...) were injected.
func (f *Forge) FaultCounts() map[string]int {
	f.calls.mu.Lock()
	defer f.calls.mu.Unlock()
	return maps.Clone(f.calls.faults)
}

// injectFault delays a GitLab API call and may answer it with a fault; it
// reports whether it did.
func (f *Forge) injectFault(w http.ResponseWriter, r *http.Request) bool {
	return f.fault(w, r, func(fl Faults) bool {
		if !f.chance(fl.RateLimitRate) {
			return false
		}
		f.calls.fault(FaultRateLimited)
		// GitLab's rate limiter answers in plain text.
		w.Header().Set("Retry-After", strconv.Itoa(fl.RetryAfter))
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte("Retry later\n"))
		return true
	})
}

// injectGHFault is injectFault for the GitHub API, whose rate limits
// answer in three ways.
func (f *Forge) injectGHFault(w http.ResponseWriter, r *http.Request) bool {
	return f.fault(w, r, func(fl Faults) bool {
		h := w.Header()
		switch {
		case f.chance(fl.PrimaryRateLimitRate):
			f.calls.fault(FaultPrimaryRateLimit)
			h.Set("X-RateLimit-Limit", "5000")
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Used", "5000")
			h.Set("X-RateLimit-Resource", "core")
			h.Set("X-RateLimit-Reset", strconv.FormatInt(f.opts.Now().Unix()+int64(fl.RetryAfter), 10))
			writeGH(w, http.StatusForbidden, ghMessage{Message: "API rate limit exceeded for user.", DocumentationURL: ghDocs + "/overview/rate-limits-for-the-rest-api"})
		case f.chance(fl.SecondaryRateLimitRate):
			f.calls.fault(FaultSecondaryRateLimit)
			h.Set("Retry-After", strconv.Itoa(fl.RetryAfter))
			writeGH(w, http.StatusForbidden, ghMessage{Message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", DocumentationURL: ghSecondaryDocs})
		case f.chance(fl.RateLimitRate):
			f.calls.fault(FaultRateLimited)
			h.Set("Retry-After", strconv.Itoa(fl.RetryAfter))
			writeGH(w, http.StatusTooManyRequests, ghMessage{Message: "You have exceeded a secondary rate limit.", DocumentationURL: ghSecondaryDocs})
		default:
			return false
		}
		return true
	})
}

// fault adds the configured latency, then may answer 500 or, through
// limit, a rate limit.
func (f *Forge) fault(w http.ResponseWriter, r *http.Request, limit func(Faults) bool) bool {
	f.mu.Lock()
	fl := f.faults
	f.mu.Unlock()
	if fl.Latency > 0 {
		t := time.NewTimer(fl.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if f.chance(fl.ServerErrorRate) {
		f.calls.fault(FaultServerError)
		writeMessage(w, http.StatusInternalServerError, "500 Internal Server Error")
		return true
	}
	return limit(fl)
}
