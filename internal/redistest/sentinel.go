package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel settings: a master that does not answer for sentinelDownAfter is
// down; a failover that does not end within sentinelFailoverTimeout is
// given up and retried after twice that.
const (
	sentinelMaster          = "mymaster"
	sentinelQuorum          = 2
	sentinelCount           = 3
	sentinelDownAfter       = 1000 * time.Millisecond
	sentinelFailoverTimeout = 3000 * time.Millisecond
)

// SentinelSet is a master, one replica and three sentinels watching them,
// all redis-server processes on loopback, for tests of what a service sees
// when the master dies. Every process is killed when the test ends.
type SentinelSet struct {
	tb        testing.TB
	data      []*server // the first master, then its replica
	master    int       // index in data of the current master
	sentinels []*server
	watchers  []*redis.SentinelClient // one per sentinel
}

// Sentinel starts a master, a replica of it and three sentinels that
// monitor it as MasterName with a quorum of 2, and returns once every
// sentinel sees the master, the replica in sync and the other sentinels. It
// always starts its own servers, REDIS_URL or not.
func Sentinel(tb testing.TB) *SentinelSet {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	master := startNode(tb, "", "--repl-diskless-sync-delay", "0")
	host, port, _ := net.SplitHostPort(master.addr)
	replica := startNode(tb, "", "--repl-diskless-sync-delay", "0", "--replicaof", host, port)
	// Sentinels learn of replicas from the master's INFO, which they ask
	// for every 10s once started: the replica must be there at the start.
	err := waitFor(ctx, "replica syncing", func(ctx context.Context) error {
		_, err := replica.linkedReplica(ctx)
		return err
	})
	if err != nil {
		tb.Fatalf("redistest: %v", withLog(err))
	}
	s := &SentinelSet{tb: tb, data: []*server{master, replica}}
	conf := fmt.Sprintf("sentinel monitor %[1]s %[2]s %[3]s %[4]d\n"+
		"sentinel down-after-milliseconds %[1]s %[5]d\n"+
		"sentinel failover-timeout %[1]s %[6]d\n"+
		"sentinel parallel-syncs %[1]s 1\n",
		sentinelMaster, host, port, sentinelQuorum, sentinelDownAfter.Milliseconds(), sentinelFailoverTimeout.Milliseconds())
	for range sentinelCount {
		n := startNode(tb, conf, "--sentinel")
		w := redis.NewSentinelClient(&redis.Options{
			Addr: n.addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second,
		})
		tb.Cleanup(func() { _ = w.Close() })
		s.sentinels, s.watchers = append(s.sentinels, n), append(s.watchers, w)
	}
	if err := waitFor(ctx, "sentinels watching", s.watching); err != nil {
		tb.Fatalf("redistest: %v", withLog(err))
	}
	return s
}

// MasterName is the name the sentinels know the master by.
func (s *SentinelSet) MasterName() string { return sentinelMaster }

// SentinelAddrs returns the addresses of the sentinels.
func (s *SentinelSet) SentinelAddrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, n := range s.sentinels {
		addrs[i] = n.addr
	}
	return addrs
}

// MasterAddr returns the address of the current master.
func (s *SentinelSet) MasterAddr() string { return s.data[s.master].addr }

// Client returns a new failover client that finds the master through the
// sentinels, with go-redis's default options, closed when the test ends.
func (s *SentinelSet) Client() *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName(), SentinelAddrs: s.SentinelAddrs()})
	s.tb.Cleanup(func() { _ = c.Close() })
	return c
}

// KillMaster kills the master (SIGKILL, as a crash would) and waits until
// every sentinel names the replica as the new master and the replica knows
// it is one; it returns the new master's address. Writes the dead master
// acknowledged but had not passed on are lost: call WaitReplicated first to
// keep them.
func (s *SentinelSet) KillMaster(ctx context.Context) (string, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	old := s.data[s.master]
	heir := -1
	for i, n := range s.data {
		if i != s.master && n.running() {
			heir = i
		}
	}
	if heir < 0 {
		return "", fmt.Errorf("redistest: kill master %s: it has no running replica to take over", old.addr)
	}
	old.stop()
	next := s.data[heir]
	err := waitFor(ctx, fmt.Sprintf("failover of killed master %s to %s", old.addr, next.addr), func(ctx context.Context) error {
		return s.promoted(ctx, next)
	})
	if err != nil {
		return "", fmt.Errorf("redistest: %w", withLog(err, next))
	}
	s.master = heir
	return next.addr, nil
}

// WaitReplicated waits until every running replica has applied everything
// the master had written when it was called, so that killing the master
// loses no write it acknowledged before.
func (s *SentinelSet) WaitReplicated(ctx context.Context) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	var replicas []*server
	for i, n := range s.data {
		if i != s.master && n.running() {
			replicas = append(replicas, n)
		}
	}
	if err := waitReplicated(ctx, s.data[s.master], replicas); err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	return nil
}

// watching checks that every sentinel sees the master up, its replica in
// sync, and the other sentinels, without which no failover gets a majority.
func (s *SentinelSet) watching(ctx context.Context) error {
	for i, w := range s.watchers {
		n := s.sentinels[i]
		m, err := w.Master(ctx, sentinelMaster).Result()
		if err != nil {
			return nodeErrorf(n, "sentinel master: %w", err)
		}
		want := map[string]string{"flags": "master", "num-slaves": "1", "num-other-sentinels": strconv.Itoa(sentinelCount - 1)}
		for k, v := range want {
			if m[k] != v {
				return nodeErrorf(n, "sentinel master %s: %s is %q, want %q", sentinelMaster, k, m[k], v)
			}
		}
		reps, err := w.Replicas(ctx, sentinelMaster).Result()
		if err != nil {
			return nodeErrorf(n, "sentinel replicas: %w", err)
		}
		if len(reps) != 1 || reps[0]["flags"] != "slave" || reps[0]["master-link-status"] != "ok" {
			return nodeErrorf(n, "sentinel replicas of %s: %v, want one with flags slave and master-link-status ok", sentinelMaster, reps)
		}
	}
	return nil
}

// promoted checks that next is a master and every sentinel has switched to
// it: SENTINEL MASTER shows the new address only once a sentinel's
// failover (or its learning of another's) is over.
func (s *SentinelSet) promoted(ctx context.Context, next *server) error {
	host, port, _ := net.SplitHostPort(next.addr)
	for i, w := range s.watchers {
		n := s.sentinels[i]
		m, err := w.Master(ctx, sentinelMaster).Result()
		if err != nil {
			return nodeErrorf(n, "sentinel master: %w", err)
		}
		if m["ip"] != host || m["port"] != port {
			return nodeErrorf(n, "sentinel names %s:%s as master (flags %s), want %s", m["ip"], m["port"], m["flags"], next.addr)
		}
		if strings.Contains(m["flags"], "failover_in_progress") {
			return nodeErrorf(n, "failover of %s still in progress", sentinelMaster)
		}
	}
	role, err := next.role(ctx)
	if err != nil || role != "master" {
		return errors.Join(err, nodeErrorf(next, "named master by the sentinels but its role is %q", role))
	}
	return nil
}
