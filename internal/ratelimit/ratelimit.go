// Package ratelimit keeps requests within sliding windows ("80 a minute
// and 500 an hour"), on the client's side, so a busy service slows down
// instead of being locked out by the server it calls.
//
// A forge's limits hold per token, and every replica of trainyard serve
// may use the same token: Redis keeps one budget that all of them share,
// in one sorted set per budget updated by one script. Local keeps the
// same budget in process memory, for when there is no Redis.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Window allows N requests in any span of length Per. A window whose N
// or Per is not positive bounds nothing.
type Window struct {
	N   int
	Per time.Duration
}

// Limiter hands out room for requests.
type Limiter interface {
	// Reserve takes room for one request, waiting for it while ctx
	// allows. When ctx ends first, or its deadline comes before the
	// room would, it fails with an *Exhausted at once rather than wait in
	// vain.
	Reserve(ctx context.Context) error
}

// Store makes budgets: in process memory when nil (NewLocal), or
// wherever the function keeps them, such as at one Redis key (InRedis).
type Store func(windows ...Window) Limiter

// Budget is a budget of windows in s.
func (s Store) Budget(windows ...Window) Limiter {
	if s == nil {
		return NewLocal(windows...)
	}
	return s(windows...)
}

// Exhausted is the error of a Reserve that could not wait for room.
type Exhausted struct {
	// Free is about when some room would have been had.
	Free time.Time
	// Err is ctx's error, or context.DeadlineExceeded when the deadline
	// would have passed during the wait.
	Err error
}

func (e *Exhausted) Error() string {
	return fmt.Sprintf("rate limit spent until %s: %v", e.Free.Format(time.RFC3339), e.Err)
}

func (e *Exhausted) Unwrap() error { return e.Err }

// Key is the Redis key of a budget: under prefix, named for what it
// limits (a forge's name), and told apart by a hash of identity (the
// instance and the token, or the app installation, that the server
// limits by). Replicas with the same identity share one budget; the key
// never reveals a token.
func Key(prefix, name string, identity ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(identity, "\x00")))
	key := "ratelimit:" + name + ":" + hex.EncodeToString(sum[:12])
	if prefix == "" {
		return key
	}
	return prefix + ":" + key
}

// bounding are the windows that bound something, and the longest of
// them: requests older than it count in none.
func bounding(windows []Window) ([]Window, time.Duration) {
	var out []Window
	var longest time.Duration
	for _, w := range windows {
		if w.N > 0 && w.Per > 0 {
			out = append(out, w)
			longest = max(longest, w.Per)
		}
	}
	return out, longest
}

// sleepUntil waits for free unless ctx ends first; a wait past ctx's
// deadline is not started.
func sleepUntil(ctx context.Context, free time.Time) error {
	if deadline, ok := ctx.Deadline(); ok && free.After(deadline) {
		return &Exhausted{Free: free, Err: context.DeadlineExceeded}
	}
	t := time.NewTimer(time.Until(free))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return &Exhausted{Free: free, Err: ctx.Err()}
	}
}
