package redistest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestClientStartsAndStopsServer(t *testing.T) {
	t.Setenv(EnvURL, "")
	ctx := context.Background()
	var addr string
	t.Run("server", func(t *testing.T) {
		url := URL(t)
		addr = strings.TrimPrefix(url, "redis://")
		c := connect(t, url)
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatalf("set: %v", err)
		}
		if got := c.ConfigGet(ctx, "save").Val()["save"]; got != "" {
			t.Fatalf("save config = %q, want persistence off", got)
		}
	})
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatalf("server at %s still answers after its test ended", addr)
	}
}

func TestServersAreSeparate(t *testing.T) {
	t.Setenv(EnvURL, "")
	ctx := context.Background()
	a, b := Client(t), Client(t)
	if err := a.Set(ctx, "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n := b.Exists(ctx, "k").Val(); n != 0 {
		t.Fatalf("second server sees the first one's key")
	}
}

func TestMissingRedisServerFailsWithInstallHint(t *testing.T) {
	t.Setenv(EnvURL, "")
	t.Setenv("PATH", t.TempDir())
	rec := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		startServer(rec)
	}()
	<-done
	if !strings.Contains(rec.fatal, "apt-get install redis-server") || !strings.Contains(rec.fatal, EnvURL) {
		t.Fatalf("fatal message = %q, want an install hint naming %s", rec.fatal, EnvURL)
	}
	if strings.Contains(rec.fatal, "\n") {
		t.Fatalf("fatal message spans lines: %q", rec.fatal)
	}
}

func TestPrefixUnique(t *testing.T) {
	a, b := Prefix(t), Prefix(t)
	if a == b || !strings.HasPrefix(a, "test:TestPrefixUnique:") {
		t.Fatalf("prefixes %q, %q: want distinct, named after the test", a, b)
	}
	if strings.ContainsAny(a, "{}") {
		t.Fatalf("prefix %q holds a hash tag brace", a)
	}
}

func TestMini(t *testing.T) {
	m, c := MiniServer(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	m.FastForward(2 * time.Second)
	if n := c.Exists(ctx, "k").Val(); n != 0 {
		t.Fatalf("key survived FastForward past its TTL")
	}
}

// fakeTB records a fatal failure instead of failing the real test.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestClusterRefusesCrossSlot(t *testing.T) {
	ctx := context.Background()
	c := Cluster(t)
	if err := c.Set(ctx, "{a}x", "1", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	if err := c.MSet(ctx, "{a}y", "1", "{a}z", "2").Err(); err != nil {
		t.Fatalf("same-slot mset: %v", err)
	}
	err := c.Eval(ctx, "return redis.call('MSET', KEYS[1], 1, KEYS[2], 2)", []string{"{a}k", "{b}k"}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("cross-slot script: %v, want CROSSSLOT", err)
	}
}
