// Package redistest gives tests a Redis to talk to: a real redis-server (the
// one in PATH, or the shared server named by REDIS_URL) or an in-process
// miniredis for fast unit tests.
//
// A real server is started per test, on a free loopback port, without
// persistence, and is stopped when the test ends. Tests that share a server
// through REDIS_URL must keep their keys apart with Prefix.
//
// ClusterN (a Redis Cluster of masters and replicas) and Sentinel (a master,
// a replica and three sentinels) always start their own servers, so that a
// test can kill a master and watch a replica take over.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// EnvURL names the environment variable that points tests at a shared
// server instead of starting one each.
const EnvURL = "REDIS_URL"

// Client returns a client of a real Redis server, closed when tb ends: the
// server at REDIS_URL when it is set, otherwise a fresh redis-server that
// lives as long as tb.
func Client(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	return connect(tb, URL(tb))
}

// URL returns the address of a real Redis server as a redis:// URL: REDIS_URL
// when set, otherwise the address of a fresh redis-server that lives as long
// as tb.
func URL(tb testing.TB) string {
	tb.Helper()
	if u := strings.TrimSpace(os.Getenv(EnvURL)); u != "" {
		return u
	}
	return "redis://" + startServer(tb)
}

// Prefix returns a key prefix no other test uses, so tests can share one
// server (REDIS_URL) without seeing each other's keys.
func Prefix(tb testing.TB) string {
	tb.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("redistest: random prefix: %v", err)
	}
	name := strings.NewReplacer("/", ".", " ", "_", "{", "(", "}", ")").Replace(tb.Name())
	return "test:" + name + ":" + hex.EncodeToString(b[:])
}

// Mini returns a client of a fresh miniredis, closed when tb ends.
func Mini(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	_, c := MiniServer(tb)
	return c
}

// MiniServer is Mini that also returns the miniredis, for tests that move
// its clock (FastForward) or inspect it directly.
func MiniServer(tb testing.TB) (*miniredis.Miniredis, redis.UniversalClient) {
	tb.Helper()
	m := miniredis.RunT(tb)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	tb.Cleanup(func() { _ = c.Close() })
	return m, c
}

func connect(tb testing.TB, url string) redis.UniversalClient {
	tb.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("redistest: parse %s: %v", EnvURL, err)
	}
	c := redis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redistest: ping redis at %s: %v", opts.Addr, err)
	}
	return c
}
