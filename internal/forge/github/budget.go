package github

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// budget keeps content-creating requests under GitHub's secondary rate
// limits (by default 80 a minute and 500 an hour) on the client's side,
// so a busy train slows down instead of being locked out.
type budget struct {
	mu      sync.Mutex
	windows []window
	// sent are the times of the requests in the longest window, oldest
	// first.
	sent []time.Time
}

// window allows n requests in any span of length per.
type window struct {
	n   int
	per time.Duration
}

func newBudget(windows ...window) *budget { return &budget{windows: windows} }

// reserve takes room for one request, waiting for it while call allows.
func (b *budget) reserve(call context.Context) error {
	for {
		now := time.Now()
		at, ok := b.take(now)
		if ok {
			return nil
		}
		if err := sleepUntil(call, at, fmt.Sprintf("write budget spent until %s", at.Format(time.RFC3339))); err != nil {
			return err
		}
	}
}

// take records a request at now if every window has room, or returns
// when the first window that is full will have some.
func (b *budget) take(now time.Time) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	longest := time.Duration(0)
	for _, w := range b.windows {
		longest = max(longest, w.per)
	}
	for len(b.sent) > 0 && !b.sent[0].After(now.Add(-longest)) {
		b.sent = b.sent[1:]
	}
	var free time.Time
	for _, w := range b.windows {
		in := 0
		for i := len(b.sent) - 1; i >= 0 && b.sent[i].After(now.Add(-w.per)); i-- {
			in++
		}
		if in >= w.n {
			// The request that leaves the window first frees it.
			free = later(free, b.sent[len(b.sent)-in].Add(w.per))
		}
	}
	if !free.IsZero() {
		return free, false
	}
	b.sent = append(b.sent, now)
	return time.Time{}, true
}
