package store

import (
	"context"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// AcquireLease takes the train's lease for owner for ttl if nobody holds it,
// and reports whether it did. Owner tokens must be unique per holder: the
// token is what renew and release check. When another holds it, the train
// is marked as awaited, so that its release is announced (see
// WatchLeases).
func (s *Store) AcquireLease(ctx context.Context, key train.Key, owner string, ttl time.Duration) (bool, error) {
	ok, _, err := s.AcquireLeaseInbox(ctx, key, owner, ttl)
	return ok, err
}

// AcquireLeaseInbox is AcquireLease that also tells, when it took the
// lease, whether work forwarded to the train waits in its inbox (see
// Forward), at no extra round trip.
func (s *Store) AcquireLeaseInbox(ctx context.Context, key train.Key, owner string, ttl time.Duration) (ok, inbox bool, err error) {
	if err := checkLease(owner, ttl); err != nil {
		return false, false, fmt.Errorf("acquire lease of train %s: %w", key, err)
	}
	keys := []string{s.leaseKey(key), s.leaseWaitKey(key), s.inboxKey(key)}
	n, err := s.scripts.acquireLease.Run(ctx, s.rdb, keys, owner, ttl.Milliseconds(), leaseWaitTTL.Milliseconds()).Int64()
	if err != nil {
		return false, false, fmt.Errorf("acquire lease of train %s: %w", key, err)
	}
	return n >= 1, n == 2, nil
}

// RenewLease extends owner's lease to ttl from now. ErrLeaseLost: the lease
// expired or another owner holds it.
func (s *Store) RenewLease(ctx context.Context, key train.Key, owner string, ttl time.Duration) error {
	if err := checkLease(owner, ttl); err != nil {
		return fmt.Errorf("renew lease of train %s: %w", key, err)
	}
	n, err := s.scripts.renew.Run(ctx, s.rdb, []string{s.leaseKey(key)}, owner, ttl.Milliseconds()).Int64()
	return ownerResult("renew", key, n, err)
}

// ReleaseLease gives up owner's lease, and announces it if someone failed
// to take it lately. ErrLeaseLost: it had expired or another owner holds it
// (which is then left alone).
func (s *Store) ReleaseLease(ctx context.Context, key train.Key, owner string) error {
	n, err := s.runLease(ctx, s.scripts.releaseLease, key, owner, s.freedChannel(), s.tag(key))
	return ownerResult("release", key, n, err)
}

// ownerResult interprets the answer of a compare-owner script: 1 if the
// owner held the lease.
func ownerResult(op string, key train.Key, n int64, err error) error {
	if err != nil {
		return fmt.Errorf("%s lease of train %s: %w", op, key, err)
	}
	if n != 1 {
		return fmt.Errorf("%s lease of train %s: %w", op, key, ErrLeaseLost)
	}
	return nil
}

func checkLease(owner string, ttl time.Duration) error {
	if owner == "" {
		return fmt.Errorf("empty owner")
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("ttl %s: want at least 1ms", ttl)
	}
	return nil
}
