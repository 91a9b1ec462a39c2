package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Chat notifications wait in Redis, one queue per notify route, so that a
// restart loses none and any replica may send them. The keys of a route
// share its name as hash tag, so every call below touches one slot:
//
//	<prefix>:notify:{<route>}:due        sorted set: message ids by when they are due (µs)
//	<prefix>:notify:{<route>}:data       hash: message id → the notifier's data
//	<prefix>:notify:{<route>}:sent:<id>  a message sent lately, so a repeat is not queued
//
// A claimed message stays in the queue, due again when its claim lapses:
// a replica that dies while posting leaves it to another, which may post
// it twice, a smaller harm than losing it. The queue and data keys expire
// a while after the last message was added, which clears the queue of a
// route taken out of the configuration.

// ErrQueueFull: a route's queue holds as many messages as it may.
var ErrQueueFull = errors.New("queue full")

// Notifications is the chat notifications' queues. It is safe for
// concurrent use.
type Notifications struct {
	s                 *Store
	add, claim, retry *redis.Script
}

// Notifications returns the queues of chat notifications.
func (s *Store) Notifications() *Notifications {
	return &Notifications{
		s: s,
		// KEYS: due, data, the sent mark. ARGV: id, data, due µs, limit,
		// keep ms. Returns 1 when queued, 0 when the message is queued or
		// was sent lately, -1 when the queue is full.
		add: redis.NewScript(`
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return 0
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return -1
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
`),
		// KEYS: due, data. ARGV: now µs, end of the claim µs. Returns {1,
		// id, data} for the earliest message due by now, now due at the
		// end of the claim; {0, due µs} when the earliest is due later;
		// {0} when the queue is empty. An id without data (its route's
		// data expired) is forgotten.
		claim: redis.NewScript(`
while true do
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #first == 0 then
    return {0}
  end
  if tonumber(first[2]) > tonumber(ARGV[1]) then
    return {0, first[2]}
  end
  local data = redis.call('HGET', KEYS[2], first[1])
  if data then
    redis.call('ZADD', KEYS[1], ARGV[2], first[1])
    return {1, first[1], data}
  end
  redis.call('ZREM', KEYS[1], first[1])
end
`),
		// KEYS: due, data. ARGV: id, data, due µs. Returns 0 when the
		// message is no longer queued (another claimer finished it).
		retry: redis.NewScript(`
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`),
	}
}

// Claimed is what Claim found: a message (ID empty when none is due) or,
// when none is due, when the earliest is (zero when the queue is empty).
type Claimed struct {
	ID   string
	Data []byte
	Next time.Time
}

func (q *Notifications) key(route, kind string) string {
	return q.s.prefix + ":notify:{" + q.s.escaper.Replace(route) + "}:" + kind
}

func (q *Notifications) sentKey(route, id string) string {
	return q.key(route, "sent:"+q.s.escaper.Replace(id))
}

// Add queues message id of route with data, due at due, unless the route
// holds it or sent it lately, and reports whether it queued it; a route
// holding limit messages refuses it with ErrQueueFull. The route's queue
// is kept at least keep after this call.
func (q *Notifications) Add(ctx context.Context, route, id string, data []byte, due time.Time, limit int, keep time.Duration) (bool, error) {
	keys := []string{q.key(route, "due"), q.key(route, "data"), q.sentKey(route, id)}
	n, err := q.add.Run(ctx, q.s.rdb, keys, id, data, due.UnixMicro(), limit, max(keep.Milliseconds(), 1)).Int64()
	switch {
	case err != nil:
		return false, fmt.Errorf("queue notification %s for route %s: %w", id, route, err)
	case n < 0:
		return false, fmt.Errorf("queue notification %s for route %s: %w (%d messages)", id, route, ErrQueueFull, limit)
	}
	return n == 1, nil
}

// Claim takes the route's earliest message due by now and hides it from
// other claims for lease, after which it is due again unless Retry, Done
// or Drop settled it.
func (q *Notifications) Claim(ctx context.Context, route string, now time.Time, lease time.Duration) (Claimed, error) {
	keys := []string{q.key(route, "due"), q.key(route, "data")}
	res, err := q.claim.Run(ctx, q.s.rdb, keys, now.UnixMicro(), now.Add(lease).UnixMicro()).Slice()
	if err != nil {
		return Claimed{}, fmt.Errorf("claim notification of route %s: %w", route, err)
	}
	c, err := claimedOf(res)
	if err != nil {
		return Claimed{}, &CorruptError{RedisKey: keys[0], Err: err}
	}
	return c, nil
}

func claimedOf(res []any) (Claimed, error) {
	if len(res) == 3 {
		id, _ := res[1].(string)
		data, _ := res[2].(string)
		return Claimed{ID: id, Data: []byte(data)}, nil
	}
	if len(res) < 2 {
		return Claimed{}, nil
	}
	s, _ := res[1].(string)
	us, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return Claimed{}, fmt.Errorf("due time %q: %w", s, err)
	}
	return Claimed{Next: time.UnixMicro(int64(us))}, nil
}

// Retry makes a claimed message due again at due, with new data (its
// attempts, say). ErrNotFound when it is no longer queued.
func (q *Notifications) Retry(ctx context.Context, route, id string, data []byte, due time.Time) error {
	keys := []string{q.key(route, "due"), q.key(route, "data")}
	n, err := q.retry.Run(ctx, q.s.rdb, keys, id, data, due.UnixMicro()).Int64()
	if err != nil {
		return fmt.Errorf("reschedule notification %s of route %s: %w", id, route, err)
	}
	if n == 0 {
		return fmt.Errorf("reschedule notification %s of route %s: %w", id, route, ErrNotFound)
	}
	return nil
}

// Done removes a message that was sent and remembers its id for remember,
// so a repeat of it is not queued.
func (q *Notifications) Done(ctx context.Context, route, id string, remember time.Duration) error {
	_, err := q.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, q.key(route, "due"), id)
		p.HDel(ctx, q.key(route, "data"), id)
		p.Set(ctx, q.sentKey(route, id), 1, max(remember, time.Millisecond))
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish notification %s of route %s: %w", id, route, err)
	}
	return nil
}

// Drop removes a message given up on. Its id is not remembered: a repeat
// is queued and tried again.
func (q *Notifications) Drop(ctx context.Context, route, id string) error {
	_, err := q.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, q.key(route, "due"), id)
		p.HDel(ctx, q.key(route, "data"), id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("drop notification %s of route %s: %w", id, route, err)
	}
	return nil
}
