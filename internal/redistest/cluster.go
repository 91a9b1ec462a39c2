package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster returns a cluster client of a fresh one-node Redis Cluster that
// owns every slot, closed and stopped when tb ends. One node is enough to
// prove cluster safety: a cluster node refuses any command or script whose
// keys hash to different slots, even when it owns all of them. It always
// starts its own redis-server, REDIS_URL or not.
func Cluster(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	addr := startServer(tb, "--cluster-enabled", "yes", "--cluster-config-file", "nodes-$PORT.conf",
		"--cluster-port", "$FREEPORT") // port+10000 may be past 65535
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	node := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = node.Close() }()
	if err := node.ClusterAddSlotsRange(ctx, 0, 16383).Err(); err != nil {
		tb.Fatalf("redistest: assign slots to cluster node %s: %v", addr, err)
	}
	for {
		info, err := node.ClusterInfo(ctx).Result()
		if err == nil && infoField(info, "cluster_state") == "ok" {
			break
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("redistest: cluster node %s not ready within %s: %v; %s", addr, readyTimeout, err, info)
		case <-time.After(10 * time.Millisecond):
		}
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
	tb.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redistest: ping cluster at %s: %v", addr, err)
	}
	return c
}
