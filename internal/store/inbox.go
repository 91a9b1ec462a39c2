package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/train"
)

// A train's inbox holds work that a replica could not do because another
// held the train's lease: the holder takes it before it lets the lease
// go, so a pipeline's result is planned by the replica that already has
// the train loaded and its commits in its mirror, instead of waiting for
// the lease to change hands. Whoever takes the lease next takes what is
// left, so a holder that dies loses nothing.

// inboxTTL bounds how long forwarded work waits for a holder. Every
// holder and the forwarder's own retry take it long before; past this it
// is dropped, and the sweep reads what it said from the forge again.
const inboxTTL = time.Hour

// inboxMax bounds an inbox that nobody takes: the oldest work is dropped
// first, as the sweep reads it again.
const inboxMax = 10000

// inboxKey shares the lease's slot, so the inbox moves with its train on
// Redis Cluster.
func (s *Store) inboxKey(k train.Key) string { return s.trainKeyOf(k, "inbox") }

// Forward adds work to the train's inbox for whoever holds its lease.
func (s *Store) Forward(ctx context.Context, key train.Key, work string) error {
	ik := s.inboxKey(key)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, ik, work)
		p.LTrim(ctx, ik, -inboxMax, -1)
		p.PExpire(ctx, ik, inboxTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("forward work to train %s: %w", key, err)
	}
	return nil
}

// PeekInbox returns the work waiting in the train's inbox, oldest first,
// and leaves it there: the holder drops it (DropInbox) once the pass that
// planned it has saved, so a holder that dies before leaves it to the
// next.
func (s *Store) PeekInbox(ctx context.Context, key train.Key) ([]string, error) {
	got, err := s.rdb.LRange(ctx, s.inboxKey(key), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read the inbox of train %s: %w", key, err)
	}
	return got, nil
}

// DropInbox removes the oldest n items of the train's inbox, those a
// PeekInbox returned: forwarders only append, so they are still first.
func (s *Store) DropInbox(ctx context.Context, key train.Key, n int) error {
	if n <= 0 {
		return nil
	}
	if err := s.rdb.LTrim(ctx, s.inboxKey(key), int64(n), -1).Err(); err != nil {
		return fmt.Errorf("empty the inbox of train %s: %w", key, err)
	}
	return nil
}
