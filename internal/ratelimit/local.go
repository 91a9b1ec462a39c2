package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Local is a budget in process memory: each process that holds one has
// a budget of its own. It is safe for concurrent use.
type Local struct {
	windows []Window
	longest time.Duration
	mu      sync.Mutex
	// sent are the times of the requests in the longest window, oldest
	// first.
	sent []time.Time
}

// NewLocal returns a budget of windows in process memory.
func NewLocal(windows ...Window) *Local {
	ws, longest := bounding(windows)
	return &Local{windows: ws, longest: longest}
}

// Reserve takes room for one request, waiting for it while ctx allows.
func (l *Local) Reserve(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return &Exhausted{Free: time.Now(), Err: err}
		}
		free, ok := l.take(time.Now())
		if ok {
			return nil
		}
		if err := sleepUntil(ctx, free); err != nil {
			return err
		}
	}
}

// take records a request at now if every window has room, or returns
// when the first window that is full will have some.
func (l *Local) take(now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.sent) > 0 && !l.sent[0].After(now.Add(-l.longest)) {
		l.sent = l.sent[1:]
	}
	var free time.Time
	for _, w := range l.windows {
		in := 0
		for i := len(l.sent) - 1; i >= 0 && l.sent[i].After(now.Add(-w.Per)); i-- {
			in++
		}
		if in >= w.N {
			// The window has room again once its N-th newest
			// request has left it.
			if at := l.sent[len(l.sent)-w.N].Add(w.Per); at.After(free) {
				free = at
			}
		}
	}
	if !free.IsZero() {
		return free, false
	}
	if len(l.windows) > 0 {
		l.sent = append(l.sent, now)
	}
	return time.Time{}, true
}
