package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterNodeTimeout is how long a cluster node may be silent before the
// others count it as failed: low, so that a killed master's replica takes
// over within a few seconds.
const clusterNodeTimeout = 1000 * time.Millisecond

// ClusterNodes is a Redis Cluster of redis-server processes on loopback,
// each master with its replicas, for tests of what a service sees when a
// node dies. Every process is killed when the test ends.
type ClusterNodes struct {
	tb       testing.TB
	nodes    []*server // in start order; killed ones stay here, stopped
	masters  int
	replicas int // per master, when the cluster formed
}

// ClusterN starts masters*(1+replicasPerMaster) cluster-enabled
// redis-servers, joins them with redis-cli --cluster create, and returns
// once every node sees the cluster ok with all of its masters and replicas
// and every replica has finished its initial sync. Redis Cluster needs at
// least 3 masters. It always starts its own servers, REDIS_URL or not, and
// needs redis-cli (Debian's redis-tools) besides redis-server.
func ClusterN(tb testing.TB, masters, replicasPerMaster int) *ClusterNodes {
	tb.Helper()
	if masters < 3 || replicasPerMaster < 0 {
		tb.Fatalf("redistest: cluster of %d masters with %d replicas each: want at least 3 masters and no negative replicas", masters, replicasPerMaster)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatalf("redistest: redis-cli not in PATH: install it (apt-get install redis-tools)")
	}
	c := &ClusterNodes{tb: tb, masters: masters, replicas: replicasPerMaster}
	for range masters * (1 + replicasPerMaster) {
		c.nodes = append(c.nodes, startNode(tb, "",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", "$FREEPORT", // port+10000 may be past 65535
			"--cluster-node-timeout", strconv.FormatInt(clusterNodeTimeout.Milliseconds(), 10),
			"--repl-diskless-sync-delay", "0", // replicas sync at once
			// CLUSTER SLOTS leaves out a replica until the master's
			// pings (every 10s by default) gave it an offset.
			"--repl-ping-replica-period", "1",
		))
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v; output:\n%s\n%s", err, out, c.nodes[0].logTail())
	}
	if err := waitFor(ctx, "cluster forming", c.formed); err != nil {
		tb.Fatalf("redistest: %v", withLog(err))
	}
	return c
}

// Addrs returns the addresses of the nodes still running, masters and
// replicas: seeds for a cluster client.
func (c *ClusterNodes) Addrs() []string {
	var addrs []string
	for _, n := range c.live() {
		addrs = append(addrs, n.addr)
	}
	return addrs
}

// Client returns a new cluster client seeded with Addrs, with go-redis's
// default options, closed when the test ends.
func (c *ClusterNodes) Client() *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.tb.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Masters returns the addresses of the current masters, ordered by the
// slots they serve: after a failover the promoted replica takes its old
// master's place.
func (c *ClusterNodes) Masters(ctx context.Context) ([]string, error) {
	ranges, err := c.slotRanges(ctx)
	if err != nil {
		return nil, err
	}
	var masters []string
	for _, r := range ranges {
		if !slices.Contains(masters, r.master) {
			masters = append(masters, r.master)
		}
	}
	return masters, nil
}

// MasterOf returns the address of the master that serves key now.
func (c *ClusterNodes) MasterOf(ctx context.Context, key string) (string, error) {
	ranges, err := c.slotRanges(ctx)
	if err != nil {
		return "", err
	}
	slot := KeySlot(key)
	if r, ok := rangeOf(ranges, slot); ok {
		return r.master, nil
	}
	return "", fmt.Errorf("redistest: no master serves slot %d of %q", slot, key)
}

// KillMaster kills the i-th master of Masters (SIGKILL, as a crash would)
// and waits until one of its replicas took over its slots, every node left
// sees the cluster ok, and all agree on the new master, whose address it
// returns. Writes the dead master acknowledged but had not passed on are
// lost: call WaitReplicated first to keep them. A cluster client made
// before needs Refresh to find the new master.
func (c *ClusterNodes) KillMaster(ctx context.Context, i int) (string, error) {
	masters, err := c.Masters(ctx)
	if err != nil {
		return "", err
	}
	if i < 0 || i >= len(masters) {
		return "", fmt.Errorf("redistest: kill master %d of %d", i, len(masters))
	}
	return c.kill(ctx, masters[i])
}

// KillMasterOf is KillMaster for the master that serves key.
func (c *ClusterNodes) KillMasterOf(ctx context.Context, key string) (string, error) {
	addr, err := c.MasterOf(ctx, key)
	if err != nil {
		return "", err
	}
	return c.kill(ctx, addr)
}

// Refresh makes cl reload the cluster state and waits until it sends every
// slot to its current master. A client made before KillMaster needs it:
// go-redis (v9.23, issue #3979) does not reload the state when a master
// refuses connections, so until ClusterStateReloadInterval (60s by
// default) has passed it keeps sending the dead master's slots to it.
func (c *ClusterNodes) Refresh(ctx context.Context, cl *redis.ClusterClient) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	ranges, err := c.slotRanges(ctx)
	if err != nil {
		return err
	}
	err = waitFor(ctx, "cluster client learning the current masters", func(ctx context.Context) error {
		cl.ReloadState(ctx) // asynchronous; repeated calls coalesce
		for _, r := range ranges {
			node, err := cl.MasterForKey(ctx, keyInSlots(r.start, r.end))
			if err != nil {
				return err
			}
			if got := node.Options().Addr; got != r.master {
				return fmt.Errorf("client sends slots %d-%d to %s, their master is %s", r.start, r.end, got, r.master)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	return nil
}

// WaitReplicated waits until every running replica has applied everything
// its master had written when it was called, so that killing a master loses
// no write it acknowledged before.
func (c *ClusterNodes) WaitReplicated(ctx context.Context) error {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	ranges, err := c.slotRanges(ctx)
	if err != nil {
		return err
	}
	for _, r := range ranges {
		master := c.node(r.master)
		if master == nil {
			return fmt.Errorf("redistest: slots %d-%d served by %s, not a node of this cluster", r.start, r.end, r.master)
		}
		if err := waitReplicated(ctx, master, c.running(r.replicas)); err != nil {
			return fmt.Errorf("redistest: %w", err)
		}
	}
	return nil
}

func (c *ClusterNodes) kill(ctx context.Context, addr string) (string, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	victim := c.node(addr)
	if victim == nil || !victim.running() {
		return "", fmt.Errorf("redistest: kill master %s: not a running node of this cluster", addr)
	}
	ranges, err := c.slotRanges(ctx)
	if err != nil {
		return "", err
	}
	slot := -1
	var heirs []*server
	for _, r := range ranges {
		if r.master == addr {
			slot = r.start
			heirs = c.running(r.replicas)
		}
	}
	if slot < 0 {
		return "", fmt.Errorf("redistest: kill master %s: it serves no slots", addr)
	}
	if len(heirs) == 0 {
		return "", fmt.Errorf("redistest: kill master %s: it has no running replica to take over", addr)
	}
	victim.stop()
	var promoted string
	err = waitFor(ctx, fmt.Sprintf("failover of killed master %s", addr), func(ctx context.Context) error {
		var err error
		promoted, err = c.failedOver(ctx, slot, addr)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("redistest: %w", withLog(err, heirs...))
	}
	return promoted, nil
}

// failedOver checks that every running node sees the cluster ok and slot
// served by one and the same master other than dead, and that this master
// knows it is one; it returns the master's address.
func (c *ClusterNodes) failedOver(ctx context.Context, slot int, dead string) (string, error) {
	var master string
	for _, n := range c.live() {
		if err := clusterOK(ctx, n); err != nil {
			return "", err
		}
		ranges, err := slotRangesOf(ctx, n)
		if err != nil {
			return "", err
		}
		r, ok := rangeOf(ranges, slot)
		switch {
		case !ok:
			return "", nodeErrorf(n, "slot %d has no master", slot)
		case r.master == dead:
			return "", nodeErrorf(n, "slot %d still served by the killed master", slot)
		case master != "" && r.master != master:
			return "", nodeErrorf(n, "slot %d served by %s, other nodes say %s", slot, r.master, master)
		}
		master = r.master
	}
	m := c.node(master)
	if m == nil || !m.running() {
		return "", fmt.Errorf("slot %d served by %s, not a running node of this cluster", slot, master)
	}
	if role, err := m.role(ctx); err != nil || role != "master" {
		return "", errors.Join(err, nodeErrorf(m, "promoted to serve slot %d but its role is %q", slot, role))
	}
	return master, nil
}

// formed checks that every node sees the cluster ok with all nodes, the
// masters each with their replicas, and that every replica is in sync.
func (c *ClusterNodes) formed(ctx context.Context) error {
	for _, n := range c.nodes {
		if err := clusterOK(ctx, n); err != nil {
			return err
		}
		info, err := n.admin.ClusterInfo(ctx).Result()
		if err != nil {
			return nodeErrorf(n, "cluster info: %w", err)
		}
		if known := infoField(info, "cluster_known_nodes"); known != strconv.Itoa(len(c.nodes)) {
			return nodeErrorf(n, "knows %s nodes, want %d", known, len(c.nodes))
		}
		ranges, err := slotRangesOf(ctx, n)
		if err != nil {
			return err
		}
		masters := map[string]bool{}
		for _, r := range ranges {
			masters[r.master] = true
			if len(r.replicas) != c.replicas {
				return nodeErrorf(n, "slots %d-%d have %d replicas online, want %d", r.start, r.end, len(r.replicas), c.replicas)
			}
		}
		if len(masters) != c.masters {
			return nodeErrorf(n, "sees %d masters, want %d", len(masters), c.masters)
		}
		role, err := n.role(ctx)
		if err != nil {
			return err
		}
		if role == "slave" {
			if _, err := n.linkedReplica(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func clusterOK(ctx context.Context, n *server) error {
	info, err := n.admin.ClusterInfo(ctx).Result()
	if err != nil {
		return nodeErrorf(n, "cluster info: %w", err)
	}
	if state := infoField(info, "cluster_state"); state != "ok" {
		return nodeErrorf(n, "cluster_state %q", state)
	}
	return nil
}

// slotRange is a range of slots and the nodes that serve it.
type slotRange struct {
	start, end int
	master     string   // address, up or not
	replicas   []string // addresses of the replicas that are online
}

// slotRanges returns the slot ranges as a running node sees them.
func (c *ClusterNodes) slotRanges(ctx context.Context) ([]slotRange, error) {
	n, err := c.anyLive()
	if err != nil {
		return nil, err
	}
	ranges, err := slotRangesOf(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", withLog(err))
	}
	return ranges, nil
}

// slotRangesOf returns the slot ranges as n sees them, ordered by slot. A
// replica counts once CLUSTER SHARDS calls it online: connected and with a
// replication offset.
func slotRangesOf(ctx context.Context, n *server) ([]slotRange, error) {
	shards, err := n.admin.ClusterShards(ctx).Result()
	if err != nil {
		return nil, nodeErrorf(n, "cluster shards: %w", err)
	}
	var ranges []slotRange
	for _, sh := range shards {
		var master string
		var replicas []string
		for _, nd := range sh.Nodes {
			addr := net.JoinHostPort(nd.IP, strconv.FormatInt(nd.Port, 10))
			switch {
			case nd.Role == "master":
				master = addr
			case nd.Health == "online":
				replicas = append(replicas, addr)
			}
		}
		for _, sr := range sh.Slots {
			ranges = append(ranges, slotRange{start: int(sr.Start), end: int(sr.End), master: master, replicas: replicas})
		}
	}
	slices.SortFunc(ranges, func(a, b slotRange) int { return a.start - b.start })
	return ranges, nil
}

func rangeOf(ranges []slotRange, slot int) (slotRange, bool) {
	for _, r := range ranges {
		if r.start <= slot && slot <= r.end && r.master != "" {
			return r, true
		}
	}
	return slotRange{}, false
}

func (c *ClusterNodes) node(addr string) *server {
	for _, n := range c.nodes {
		if n.addr == addr {
			return n
		}
	}
	return nil
}

// running returns the nodes of addrs still running.
func (c *ClusterNodes) running(addrs []string) []*server {
	var out []*server
	for _, a := range addrs {
		if n := c.node(a); n != nil && n.running() {
			out = append(out, n)
		}
	}
	return out
}

func (c *ClusterNodes) live() []*server {
	var live []*server
	for _, n := range c.nodes {
		if n.running() {
			live = append(live, n)
		}
	}
	return live
}

func (c *ClusterNodes) anyLive() (*server, error) {
	if live := c.live(); len(live) > 0 {
		return live[0], nil
	}
	return nil, errors.New("redistest: no node of the cluster is running")
}

// keyInSlots returns a key whose slot is within first..last.
func keyInSlots(first, last int) string {
	for i := 0; ; i++ {
		k := strconv.Itoa(i)
		if s := KeySlot(k); first <= s && s <= last {
			return k
		}
	}
}

// KeySlot is Redis Cluster's placement of key: CRC16 (XMODEM) of its hash
// tag, or of the whole key if it has none, modulo 16384.
func KeySlot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	var crc uint16
	for i := range len(key) {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc % 16384)
}
