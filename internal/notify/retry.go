package notify

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// DefaultRetryFor is how long a message is retried when its route does not
// say: long enough to ride out a chat outage or a redeploy of the receiver,
// short enough that the news is still news.
const DefaultRetryFor = time.Hour

// Retry shapes the waits between the attempts of a message that fails.
// How long a message is retried at all is its route's RetryFor.
type Retry struct {
	// Base is the first wait's ceiling, doubled for each failure in a row
	// up to Max; the wait is drawn at random below the ceiling (full
	// jitter), so the messages of one outage do not retry in step.
	Base time.Duration // default 1s
	Max  time.Duration // default 5m
}

func (r Retry) withDefaults() Retry {
	if r.Base <= 0 {
		r.Base = time.Second
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Minute
	}
	return r
}

// wait is the wait after the nth failure in a row (from 1): never zero,
// never more than Max.
func (r Retry) wait(n int) time.Duration {
	ceil := r.Max
	if shift := n - 1; shift >= 0 && shift < 32 && r.Base<<shift > 0 && r.Base<<shift < r.Max {
		ceil = r.Base << shift
	}
	return rand.N(ceil) + 1
}

// classify says whether a webhook's error is worth another attempt, and
// the least wait first: the receiver's Retry-After. Transport errors, 429
// and any 5xx are passing; any other answer will not change on a retry.
// A chat message posted twice is a smaller harm than one lost, so a
// transport error is retried though the post may have arrived.
func classify(err error) (time.Duration, bool) {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter, se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	var ue *url.Error
	return 0, errors.As(err, &ue)
}
