package store

import (
	"context"
	"fmt"
	"time"
)

// Locks are leases on things other than trains (a comment's command, say):
// set if absent with an owner token and an expiry, renewed and released
// by their owner only.

// AcquireLock takes lock name for owner for ttl if nobody holds it, and
// reports whether it did.
func (s *Store) AcquireLock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if err := checkLease(owner, ttl); err != nil {
		return false, fmt.Errorf("acquire lock %s: %w", name, err)
	}
	ok, err := s.rdb.SetNX(ctx, s.lockKey(name), owner, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("acquire lock %s: %w", name, err)
	}
	return ok, nil
}

// RenewLock extends owner's lock to ttl from now; ErrLeaseLost if it
// lapsed or another owner holds it.
func (s *Store) RenewLock(ctx context.Context, name, owner string, ttl time.Duration) error {
	if err := checkLease(owner, ttl); err != nil {
		return fmt.Errorf("renew lock %s: %w", name, err)
	}
	n, err := s.scripts.renew.Run(ctx, s.rdb, []string{s.lockKey(name)}, owner, ttl.Milliseconds()).Int64()
	return lockResult("renew", name, n, err)
}

// ReleaseLock gives up owner's lock; ErrLeaseLost if it had lapsed or
// another owner holds it (which is then left alone).
func (s *Store) ReleaseLock(ctx context.Context, name, owner string) error {
	n, err := s.scripts.release.Run(ctx, s.rdb, []string{s.lockKey(name)}, owner).Int64()
	return lockResult("release", name, n, err)
}

func lockResult(op, name string, n int64, err error) error {
	if err != nil {
		return fmt.Errorf("%s lock %s: %w", op, name, err)
	}
	if n != 1 {
		return fmt.Errorf("%s lock %s: %w", op, name, ErrLeaseLost)
	}
	return nil
}
