package redistest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestClusterNFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six redis-servers and waits for a failover")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	c := ClusterN(t, 3, 1)
	t.Logf("cluster formed in %s", time.Since(start).Round(time.Millisecond))
	if addrs := c.Addrs(); len(addrs) != 6 {
		t.Fatalf("addrs %v, want 6", addrs)
	}
	masters, err := c.Masters(ctx)
	if err != nil || len(masters) != 3 {
		t.Fatalf("masters %v (%v), want 3", masters, err)
	}
	roles := map[string]int{}
	for _, n := range c.nodes {
		role, err := n.role(ctx)
		if err != nil {
			t.Fatal(err)
		}
		roles[role]++
		if role == "master" && !slices.Contains(masters, n.addr) {
			t.Fatalf("%s is a master but not in %v", n.addr, masters)
		}
	}
	if roles["master"] != 3 || roles["slave"] != 3 {
		t.Fatalf("roles %v, want 3 masters and 3 slaves", roles)
	}

	rdb := c.Client()
	keys := victimKeys(ctx, t, c, masters[0], 20)
	for _, k := range keys {
		if err := rdb.Set(ctx, k, "before", 0).Err(); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
	}
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	promoted, err := c.KillMaster(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("master %s killed, %s promoted in %s", masters[0], promoted, time.Since(start).Round(time.Millisecond))
	if now, err := c.Masters(ctx); err != nil || len(now) != 3 || now[0] != promoted || slices.Contains(now, masters[0]) {
		t.Fatalf("masters after the kill %v (%v), want %s in place of %s", now, err, promoted, masters[0])
	}
	if slices.Contains(c.Addrs(), masters[0]) {
		t.Fatalf("addrs %v still list the killed master %s", c.Addrs(), masters[0])
	}
	// go-redis keeps sending a dead master's slots to it until the client
	// reloads the cluster state (see Refresh).
	if err := c.Refresh(ctx, rdb); err != nil {
		t.Fatal(err)
	}
	want := "before"
	for _, cl := range []struct {
		name string
		c    *redis.ClusterClient
	}{{"client from before the kill", rdb}, {"new client", c.Client()}} {
		for _, k := range keys {
			if got, err := cl.c.Get(ctx, k).Result(); err != nil || got != want {
				t.Fatalf("%s: get %s = %q, %v; want %q", cl.name, k, got, err, want)
			}
			if err := cl.c.Set(ctx, k, cl.name, 0).Err(); err != nil {
				t.Fatalf("%s: set %s: %v", cl.name, k, err)
			}
		}
		want = cl.name
	}
	if got, err := c.MasterOf(ctx, keys[0]); err != nil || got != promoted {
		t.Fatalf("master of %s = %s (%v), want %s", keys[0], got, err, promoted)
	}
	if _, err := c.KillMaster(ctx, 0); err == nil || !strings.Contains(err.Error(), "no running replica") {
		t.Fatalf("kill of a master without replica: %v, want an error saying so", err)
	}
}

// victimKeys returns n keys that master serves.
func victimKeys(ctx context.Context, t *testing.T, c *ClusterNodes, master string, n int) []string {
	t.Helper()
	var keys []string
	for i := 0; len(keys) < n; i++ {
		k := fmt.Sprintf("key-%d", i)
		m, err := c.MasterOf(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if m == master {
			keys = append(keys, k)
		}
	}
	return keys
}

func TestKeySlotMatchesRedis(t *testing.T) {
	// Answers of CLUSTER KEYSLOT on redis-server 7.0.
	for key, want := range map[string]int{
		"123456789": 12739, "foo": 12182, "0": 13907,
		"{user1000}.following": 3443, "foo{}{bar}": 8363, "foo{{bar}}zap": 4015,
		"trainyard:{gitlab:group/project:main}:train": 1766,
	} {
		if got := KeySlot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
	if k := keyInSlots(100, 100); KeySlot(k) != 100 {
		t.Errorf("key %q for slot 100 is in slot %d", k, KeySlot(k))
	}
}

func TestClusterNNeedsThreeMasters(t *testing.T) {
	rec := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ClusterN(rec, 2, 1)
	}()
	<-done
	if !strings.Contains(rec.fatal, "at least 3 masters") {
		t.Fatalf("fatal message = %q, want one asking for 3 masters", rec.fatal)
	}
}

func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five redis-servers and waits for a failover")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	s := Sentinel(t)
	t.Logf("sentinels watching in %s", time.Since(start).Round(time.Millisecond))
	if len(s.SentinelAddrs()) != 3 || s.MasterName() == "" {
		t.Fatalf("sentinels %v, master name %q", s.SentinelAddrs(), s.MasterName())
	}
	old := s.MasterAddr()
	rdb := s.Client()
	for i := range 20 {
		if err := rdb.Set(ctx, fmt.Sprint("key-", i), "before", 0).Err(); err != nil {
			t.Fatalf("set: %v", err)
		}
	}
	if err := s.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	promoted, err := s.KillMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("master %s killed, %s promoted in %s", old, promoted, time.Since(start).Round(time.Millisecond))
	if promoted == old || s.MasterAddr() != promoted {
		t.Fatalf("promoted %s, master now %s, killed %s", promoted, s.MasterAddr(), old)
	}
	want := "before"
	for _, cl := range []struct {
		name string
		c    *redis.Client
	}{{"client from before the kill", rdb}, {"new client", s.Client()}} {
		for i := range 20 {
			k := fmt.Sprint("key-", i)
			if got, err := cl.c.Get(ctx, k).Result(); err != nil || got != want {
				t.Fatalf("%s: get %s = %q, %v; want %q", cl.name, k, got, err, want)
			}
			if err := cl.c.Set(ctx, k, cl.name, 0).Err(); err != nil {
				t.Fatalf("%s: set %s: %v", cl.name, k, err)
			}
		}
		want = cl.name
	}
	if _, err := s.KillMaster(ctx); err == nil || !strings.Contains(err.Error(), "no running replica") {
		t.Fatalf("kill of a master without replica: %v, want an error saying so", err)
	}
}
