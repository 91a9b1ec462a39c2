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
