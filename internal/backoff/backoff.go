// Package backoff holds the waiting rules every retry loop of Trainyard
// shares: exponential backoff with full jitter, and the server's
// Retry-After.
package backoff

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Jitter is a random wait in [0, min(max, base<<n)): full jitter over an
// exponential ceiling, so many clients retrying at once spread out.
func Jitter(base, max time.Duration, n int) time.Duration {
	ceiling := max
	if n >= 0 && n < 32 && base<<n > 0 && base<<n < max {
		ceiling = base << n
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling)
}

// RetryAfter reads a Retry-After header value, in seconds or as an HTTP
// date relative to now; zero when absent or unreadable.
func RetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
