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
// FaultRateLimited) were injected.
func (f *Forge) FaultCounts() map[string]int {
	f.calls.mu.Lock()
	defer f.calls.mu.Unlock()
	return maps.Clone(f.calls.faults)
}

// injectFault delays the call and may answer it with a fault; it reports
// whether it did.
func (f *Forge) injectFault(w http.ResponseWriter, r *http.Request) bool {
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
	switch {
	case f.chance(fl.ServerErrorRate):
		f.calls.fault(FaultServerError)
		writeMessage(w, http.StatusInternalServerError, "500 Internal Server Error")
		return true
	case f.chance(fl.RateLimitRate):
		f.calls.fault(FaultRateLimited)
		// GitLab's rate limiter answers in plain text.
		w.Header().Set("Retry-After", strconv.Itoa(fl.RetryAfter))
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte("Retry later\n"))
		return true
	}
	return false
}
