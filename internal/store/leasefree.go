package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/train"
)

// A holder that gives up a lease someone failed to take announces it on
// one channel, so the waiter tries again at once instead of at the end of
// its backoff. The announcement is a hint and may be lost (a subscriber
// reconnecting, a lease that expires instead of being released): waiters
// keep their backoff and never depend on it.

// leaseWaitTTL is how long a failed AcquireLease marks the train as
// awaited. A waiter renews the mark each time it tries, so it only has to
// outlast the backoff between two tries; a mark left by a waiter that gave
// up costs one needless announcement.
const leaseWaitTTL = 5 * time.Second

// leaseWaitKey marks that someone failed to take the train's lease lately.
// It shares the lease's slot, so acquire and release each stay one script
// on Redis Cluster.
func (s *Store) leaseWaitKey(k train.Key) string { return s.trainKeyOf(k, "leasewait") }

// freedChannel carries the hash tag of each train whose lease was released
// while awaited. Redis Cluster sends a PUBLISH to every node, so a
// subscriber on any node hears a release in any slot.
func (s *Store) freedChannel() string { return s.prefix + ":leases-freed" }

// wantedChannel carries the hash tag of each train whose lease a replica
// failed to take for urgent work (a pipeline's result): the holder may
// end its pass early to let it in.
func (s *Store) wantedChannel() string { return s.prefix + ":leases-wanted" }

// WantLease tells the holder of the train's lease, if it listens, that
// another needs the lease for urgent work. A hint, like the freed ones.
func (s *Store) WantLease(ctx context.Context, key train.Key) error {
	if err := s.rdb.Publish(ctx, s.wantedChannel(), s.tag(key)).Err(); err != nil {
		return fmt.Errorf("want lease of train %s: %w", key, err)
	}
	return nil
}

const (
	// KEYS: the lease, its wait mark, the train's inbox. ARGV: owner,
	// lease ttl and mark ttl in milliseconds. Returns 1 if the owner took
	// the lease, 2 if it did and work waits in the inbox. One script, so
	// no release can fall between a failed take and its mark and go
	// unannounced.
	acquireLeaseLua = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('LLEN', KEYS[3]) > 0 then
    return 2
  end
  return 1
end
redis.call('SET', KEYS[2], 1, 'PX', ARGV[3])
return 0
`
	// KEYS: the lease, its wait mark. ARGV: mark ttl in milliseconds.
	// Marks the lease awaited if someone holds it; returns 1 if so.
	awaitLeaseLua = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[2], 1, 'PX', ARGV[1])
  return 1
end
return 0
`
	// KEYS: the lease, its wait mark. ARGV: owner, channel, train tag.
	// Returns 1 if the owner held the lease. An unawaited release costs
	// no more than before: the mark is gone, and nothing is published.
	releaseLeaseLua = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('DEL', KEYS[2]) == 1 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return 1
`
)

// AwaitLease marks the train's lease awaited for ttl if someone holds it,
// and reports whether someone did: its release is then announced
// (WatchLeases) though nobody failed to take it. A replica holding work
// that the holder's pass may make urgent, such as the result of a
// pipeline whose car that pass is saving, so hears when to look again.
func (s *Store) AwaitLease(ctx context.Context, key train.Key, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, fmt.Errorf("await lease of train %s: ttl %s: want at least 1ms", key, ttl)
	}
	keys := []string{s.leaseKey(key), s.leaseWaitKey(key)}
	n, err := s.scripts.awaitLease.Run(ctx, s.rdb, keys, ttl.Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("await lease of train %s: %w", key, err)
	}
	return n == 1, nil
}

// WatchLeases calls freed with the key of each train whose lease is
// released while someone waits for it (an AcquireLease failed lately),
// and wanted (unless nil) with the key of each train whose lease another
// wants for urgent work (WantLease), until ctx ends. It may miss some,
// for instance while it reconnects, which go-redis does by itself; the
// calls run on the caller's goroutine, one at a time, and should return
// quickly.
func (s *Store) WatchLeases(ctx context.Context, freed, wanted func(train.Key)) {
	channels := []string{s.freedChannel()}
	if wanted != nil {
		channels = append(channels, s.wantedChannel())
	}
	ps := s.rdb.Subscribe(ctx, channels...)
	defer func() { _ = ps.Close() }()
	msgs := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			// Only ReleaseLease and WantLease publish here, always a tag.
			k, err := parseTag(m.Payload)
			switch {
			case err != nil:
			case m.Channel == s.freedChannel():
				freed(k)
			default:
				wanted(k)
			}
		}
	}
}

// runLease runs a lease script on the train's lease and wait mark.
func (s *Store) runLease(ctx context.Context, script *redis.Script, k train.Key, args ...any) (int64, error) {
	keys := []string{s.leaseKey(k), s.leaseWaitKey(k)}
	return script.Run(ctx, s.rdb, keys, args...).Int64()
}
