package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func leaseCases() []storeCase {
	return []storeCase{
		{name: "lease owner only", run: testLeaseOwner},
		{name: "lease expiry", run: testLeaseExpiry},
		{name: "lease arguments", run: testLeaseArgs},
		{name: "locks", run: testLocks},
	}
}

func testLeaseOwner(t *testing.T, e *env) {
	ctx := context.Background()
	acquire := func(owner string, want bool) {
		t.Helper()
		if got, err := e.s.AcquireLease(ctx, testKey, owner, time.Minute); err != nil || got != want {
			t.Fatalf("acquire by %s = %v (%v), want %v", owner, got, err, want)
		}
	}
	lost := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("%s: %v, want ErrLeaseLost", op, err)
		}
	}
	acquire("a", true)
	acquire("b", false)
	acquire("a", false) // not re-entrant: a second holder in the same process is a bug
	if err := e.s.RenewLease(ctx, testKey, "a", time.Hour); err != nil {
		t.Fatalf("renew by holder: %v", err)
	}
	if ttl := e.rdb.PTTL(ctx, e.s.leaseKey(testKey)).Val(); ttl <= time.Minute || ttl > time.Hour {
		t.Fatalf("ttl after renew = %s, want (1m, 1h]", ttl)
	}
	lost("renew by other", e.s.RenewLease(ctx, testKey, "b", time.Hour))
	lost("release by other", e.s.ReleaseLease(ctx, testKey, "b"))
	if owner := e.rdb.Get(ctx, e.s.leaseKey(testKey)).Val(); owner != "a" {
		t.Fatalf("owner after a foreign release = %q, want a", owner)
	}
	if err := e.s.ReleaseLease(ctx, testKey, "a"); err != nil {
		t.Fatalf("release by holder: %v", err)
	}
	lost("second release", e.s.ReleaseLease(ctx, testKey, "a"))
	lost("renew after release", e.s.RenewLease(ctx, testKey, "a", time.Minute))
	acquire("b", true)
}

func testLeaseExpiry(t *testing.T, e *env) {
	ctx := context.Background()
	const ttl = 50 * time.Millisecond
	if ok, err := e.s.AcquireLease(ctx, testKey, "a", ttl); err != nil || !ok {
		t.Fatalf("acquire: %v, %v", ok, err)
	}
	e.expire(t, e.s.leaseKey(testKey), ttl)
	if err := e.s.RenewLease(ctx, testKey, "a", time.Minute); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renew after expiry: %v, want ErrLeaseLost", err)
	}
	if ok, err := e.s.AcquireLease(ctx, testKey, "b", time.Minute); err != nil || !ok {
		t.Fatalf("acquire after expiry: %v, %v; want true", ok, err)
	}
	if err := e.s.ReleaseLease(ctx, testKey, "a"); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("release by the expired holder: %v, want ErrLeaseLost", err)
	}
	if owner := e.rdb.Get(ctx, e.s.leaseKey(testKey)).Val(); owner != "b" {
		t.Fatalf("owner = %q, want b", owner)
	}
}

func testLeaseArgs(t *testing.T, e *env) {
	ctx := context.Background()
	if _, err := e.s.AcquireLease(ctx, testKey, "", time.Minute); err == nil {
		t.Errorf("acquire with an empty owner succeeded")
	}
	if _, err := e.s.AcquireLease(ctx, testKey, "a", 0); err == nil {
		t.Errorf("acquire without a ttl succeeded")
	}
	if err := e.s.RenewLease(ctx, testKey, "a", time.Microsecond); err == nil || errors.Is(err, ErrLeaseLost) {
		t.Errorf("renew with a sub-millisecond ttl: %v, want an argument error", err)
	}
	if n := e.rdb.Exists(ctx, e.s.leaseKey(testKey)).Val(); n != 0 {
		t.Errorf("a rejected call left a lease")
	}
}

func testLocks(t *testing.T, e *env) {
	ctx := context.Background()
	take := func(owner string, ttl time.Duration, want bool) {
		t.Helper()
		if got, err := e.s.AcquireLock(ctx, "command:gitlab:g/p:1", owner, ttl); err != nil || got != want {
			t.Fatalf("acquire by %s = %v, %v; want %v", owner, got, err, want)
		}
	}
	take("a", 50*time.Millisecond, true)
	take("b", time.Minute, false)
	if err := e.s.RenewLock(ctx, "command:gitlab:g/p:1", "b", time.Minute); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renew by another owner = %v, want ErrLeaseLost", err)
	}
	if err := e.s.RenewLock(ctx, "command:gitlab:g/p:1", "a", time.Minute); err != nil {
		t.Fatalf("renew by the owner: %v", err)
	}
	if err := e.s.ReleaseLock(ctx, "command:gitlab:g/p:1", "b"); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("release by another owner = %v, want ErrLeaseLost", err)
	}
	if err := e.s.ReleaseLock(ctx, "command:gitlab:g/p:1", "a"); err != nil {
		t.Fatalf("release by the owner: %v", err)
	}
	take("b", 50*time.Millisecond, true)
	e.expire(t, e.s.lockKey("command:gitlab:g/p:1"), 50*time.Millisecond)
	take("c", time.Minute, true) // a dead owner's lock lapsed
}
