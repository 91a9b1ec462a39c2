package engine

import (
	"context"
	"fmt"
	"time"
)

// commandLockTTL bounds how long a crashed worker keeps a comment's
// command from others; a live one renews it every third.
const commandLockTTL = 10 * time.Second

// lockCommand holds command id for this worker until release, so that two
// deliveries of one comment handled at the same moment (a webhook and the
// catch-up, or two deliveries of a retried hook) act and answer one after
// the other: the second then finds the first's work done. A lock another
// worker holds is waited for, up to a little more than its TTL, since a
// holder that died lets go by then; past that the caller gets ErrBusy. A
// worker's pass does not wait: it gets ErrBusy at once and tries again
// later.
func (e *Engine) lockCommand(ctx context.Context, id string) (release func(), err error) {
	owner, err := e.leaseToken()
	if err != nil {
		return nil, err
	}
	name := "command:" + id
	deadline := time.Now().Add(commandLockTTL + commandLockTTL/2)
	oneTry, _ := ctx.Value(oneTryKey{}).(bool)
	for {
		ok, err := e.store.AcquireLock(ctx, name, owner, commandLockTTL)
		if err != nil {
			return nil, err
		}
		if ok {
			return e.keepLock(ctx, name, owner), nil
		}
		if oneTry || time.Now().After(deadline) {
			return nil, fmt.Errorf("command %s: %w", id, ErrBusy)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// keepLock renews a lock until release, which gives it up. Losing it
// stops nothing: another worker may then act on the command too, and the
// replies' markers keep that from showing twice.
func (e *Engine) keepLock(ctx context.Context, name, owner string) func() {
	_, release := e.keepRenewed(ctx, commandLockTTL, "lock "+name,
		func(ctx context.Context) error { return e.store.RenewLock(ctx, name, owner, commandLockTTL) },
		func(ctx context.Context) error { return e.store.ReleaseLock(ctx, name, owner) })
	return release
}
