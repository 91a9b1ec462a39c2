package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// eventField is the stream entry field that holds an event's data.
const eventField = "data"

// Event is one entry of the event stream, as handed to a consumer.
type Event struct {
	ID   string
	Data []byte // nil if the entry has no data field
	// Deliveries counts how often the entry was handed out, this time
	// included, so a consumer can give up on an entry that keeps failing.
	Deliveries int64
}

// AddEvent appends data to the event stream and returns the entry id.
// The stream is capped at Options.EventsMaxLen entries (see roomLua): a
// full stream returns ErrFull.
func (s *Store) AddEvent(ctx context.Context, data []byte) (string, error) {
	id, err := s.scripts.add.Run(ctx, s.rdb, []string{s.opts.EventStream}, s.opts.EventsMaxLen, data).Text()
	if err != nil {
		return "", fmt.Errorf("add event to %s: %w", s.opts.EventStream, full(err))
	}
	return id, nil
}

// ErrFull: the event stream holds Options.EventsMaxLen entries that a
// consumer group has yet to read or acknowledge, so a new one is refused
// rather than any of them dropped. The sender should retry later.
var ErrFull = errors.New("event stream full")

// full maps the scripts' refusal to ErrFull.
func full(err error) error {
	if redis.HasErrorPrefix(err, "FULL") {
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}

// roomLua defines room(stream, cap), which the scripts that add to the
// event stream call first. Below the cap it costs one XLEN. At the cap it
// trims the entries every consumer group has acknowledged: those older
// than each group's oldest pending entry, or up to its last delivered one
// when none is pending.
// An entry no group has read, or one read and not acknowledged, is never
// trimmed: trimming by length alone (MAXLEN) would drop commands already
// marked as queued, whose re-sends are then refused as repeats. Without a
// group, nothing has been read and nothing goes. room returns false when
// the stream is still at the cap; the script then refuses with
// fullReply, which full maps to ErrFull.
const roomLua = `
local fullReply = 'FULL the event stream holds its cap of unacknowledged events'
local function parts(id)
  -- ms and seq as decimal strings: Lua numbers are doubles, and
  -- miniredis keeps a group's id as given ("0").
  local ms, seq = string.match(id, '^(%d+)%-?(%d*)$')
  if seq == '' then
    seq = '0'
  end
  return ms, seq
end
local function less(x, y)
  if #x ~= #y then
    return #x < #y
  end
  return x < y
end
local function older(a, b)
  local am, as = parts(a)
  local bm, bs = parts(b)
  if am ~= bm then
    return less(am, bm)
  end
  return less(as, bs)
end
local function room(stream, cap)
  if redis.call('XLEN', stream) < cap then
    return true
  end
  local groups = redis.call('XINFO', 'GROUPS', stream)
  if #groups == 0 then
    return false
  end
  -- floor: the oldest entry some group still needs; nil when every
  -- group has read and acknowledged the whole stream.
  local floor
  for _, g in ipairs(groups) do
    local name, pending, last
    for i = 1, #g - 1, 2 do
      if g[i] == 'name' then
        name = g[i + 1]
      elseif g[i] == 'pending' then
        pending = tonumber(g[i + 1])
      elseif g[i] == 'last-delivered-id' then
        last = g[i + 1]
      end
    end
    local keep
    if pending > 0 then
      keep = redis.call('XPENDING', stream, name)[2]
    else
      -- The first entry past the last delivered one, without id
      -- arithmetic.
      for _, e in ipairs(redis.call('XRANGE', stream, last, '+', 'COUNT', 2)) do
        if e[1] ~= last then
          keep = e[1]
          break
        end
      end
    end
    if keep ~= nil and (floor == nil or older(keep, floor)) then
      floor = keep
    end
  end
  if floor == nil then
    redis.call('XTRIM', stream, 'MAXLEN', 0)
    return true
  end
  redis.call('XTRIM', stream, 'MINID', floor)
  return redis.call('XLEN', stream) < cap
end
`

// EnsureGroup creates the consumer group (and the stream) unless it exists.
// A new group starts at the beginning of the stream, so events added before
// any consumer existed are still delivered.
func (s *Store) EnsureGroup(ctx context.Context, group string) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.opts.EventStream, group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("create group %s on %s: %w", group, s.opts.EventStream, err)
	}
	return nil
}

// ReadEvents hands consumer up to count (> 0) events never delivered to group,
// waiting up to block for one to arrive (block <= 0: do not wait). A wait
// that ends without events returns none and no error. Delivered events stay
// pending until acknowledged with Ack.
func (s *Store) ReadEvents(ctx context.Context, group, consumer string, count int64, block time.Duration) ([]Event, error) {
	if count <= 0 {
		return nil, fmt.Errorf("read events of %s for %s/%s: count %d, want > 0", s.opts.EventStream, group, consumer, count)
	}
	args := &redis.XReadGroupArgs{
		Group:    group,
		Consumer: consumer,
		Streams:  []string{s.opts.EventStream, ">"},
		Count:    count,
		Block:    block,
	}
	if block <= 0 {
		args.Block = -1 // go-redis: 0 would block forever
	}
	streams, err := s.rdb.XReadGroup(ctx, args).Result()
	if errors.Is(err, redis.Nil) { // the wait ended empty
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read events of %s for %s/%s: %w", s.opts.EventStream, group, consumer, err)
	}
	var out []Event
	for _, st := range streams {
		for _, m := range st.Messages {
			out = append(out, toEvent(m, 1))
		}
	}
	return out, nil
}

// Ack marks events as handled by group, so they are never delivered again.
func (s *Store) Ack(ctx context.Context, group string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.rdb.XAck(ctx, s.opts.EventStream, group, ids...).Err(); err != nil {
		return fmt.Errorf("ack %d events of %s for %s: %w", len(ids), s.opts.EventStream, group, err)
	}
	return nil
}

// Touch tells group that consumer is still working on evs: their idle
// time starts again, so no other consumer claims them, and their delivery
// counts stay as they are. Entries no longer pending are left alone.
func (s *Store) Touch(ctx context.Context, group, consumer string, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, ev := range evs {
		// RETRYCOUNT keeps the count where it is, JUSTID or not.
		pipe.Do(ctx, "XCLAIM", s.opts.EventStream, group, consumer, 0, ev.ID, "RETRYCOUNT", ev.Deliveries, "JUSTID")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("touch %d events of %s for %s/%s: %w", len(evs), s.opts.EventStream, group, consumer, err)
	}
	return nil
}

// maxForget bounds the consumers one ForgetConsumers deletes.
const maxForget = 100

// ForgetConsumers deletes the consumers of group that hold no pending
// event and have been idle longer than idle, and returns how many: every
// process start reads under a consumer name of its own, and the group
// would keep them all. A consumer deleted while still alive is made
// again by its next read.
func (s *Store) ForgetConsumers(ctx context.Context, group string, idle time.Duration) (int, error) {
	cs, err := s.rdb.XInfoConsumers(ctx, s.opts.EventStream, group).Result()
	if err != nil {
		return 0, fmt.Errorf("list the consumers of %s/%s: %w", s.opts.EventStream, group, err)
	}
	n := 0
	for _, c := range cs {
		if n == maxForget {
			break // the rest next time: the reader waits meanwhile
		}
		if c.Pending > 0 || c.Idle <= idle {
			continue
		}
		gone, err := s.forgetConsumer(ctx, group, c.Name)
		if err != nil {
			return n, err
		}
		if gone {
			n++
		}
	}
	return n, nil
}

// forgetConsumer deletes consumer from group if it holds no event, checked
// in the same script: deleting a consumer drops the events it holds from
// the group's pending list, where no claim would find them again, and one
// listed as holding none may have read one since.
func (s *Store) forgetConsumer(ctx context.Context, group, consumer string) (bool, error) {
	n, err := s.scripts.forgetConsumer.Run(ctx, s.rdb, []string{s.opts.EventStream}, group, consumer).Int64()
	if err != nil {
		return false, fmt.Errorf("delete consumer %s of %s/%s: %w", consumer, s.opts.EventStream, group, err)
	}
	return n == 1, nil
}

// forgetConsumerLua: KEYS: the stream. ARGV: group, consumer. Returns 1
// if it deleted the consumer.
const forgetConsumerLua = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`

// ClaimIdle moves to consumer up to count events that were delivered to
// another consumer of group and not acknowledged for minIdle, so the work
// of a consumer that died is picked up. Entries deleted from the stream
// meanwhile are skipped.
func (s *Store) ClaimIdle(ctx context.Context, group, consumer string, minIdle time.Duration, count int64) ([]Event, error) {
	if count <= 0 {
		return nil, fmt.Errorf("claim idle events of %s for %s/%s: count %d, want > 0", s.opts.EventStream, group, consumer, count)
	}
	out, err := s.autoClaim(ctx, group, consumer, minIdle, count)
	if err == nil {
		err = s.fillDeliveries(ctx, group, out)
	}
	if err != nil {
		return nil, fmt.Errorf("claim idle events of %s for %s/%s: %w", s.opts.EventStream, group, consumer, err)
	}
	return out, nil
}

// autoClaim follows the XAUTOCLAIM cursor until count events are claimed or
// the whole pending list was scanned: one call scans a bounded part of it.
func (s *Store) autoClaim(ctx context.Context, group, consumer string, minIdle time.Duration, count int64) ([]Event, error) {
	var out []Event
	start := "0-0"
	for int64(len(out)) < count {
		msgs, next, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream:   s.opts.EventStream,
			Group:    group,
			Consumer: consumer,
			MinIdle:  minIdle,
			Start:    start,
			Count:    count - int64(len(out)),
		}).Result()
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			out = append(out, toEvent(m, 0))
		}
		if next == "0-0" || next == start {
			break
		}
		start = next
	}
	return out, nil
}

// fillDeliveries reads the delivery counts of claimed events, which
// XAUTOCLAIM does not return, in one round trip.
func (s *Store) fillDeliveries(ctx context.Context, group string, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.XPendingExtCmd, len(evs))
	for i, ev := range evs {
		cmds[i] = pipe.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: s.opts.EventStream, Group: group, Start: ev.ID, End: ev.ID, Count: 1,
		})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("delivery counts: %w", err)
	}
	for i, cmd := range cmds {
		if p := cmd.Val(); len(p) == 1 {
			evs[i].Deliveries = p[0].RetryCount
		}
	}
	return nil
}

func toEvent(m redis.XMessage, deliveries int64) Event {
	ev := Event{ID: m.ID, Deliveries: deliveries}
	if d, ok := m.Values[eventField].(string); ok {
		ev.Data = []byte(d)
	}
	return ev
}

// EnqueueDelivery queues data on the event stream unless delivery id was
// queued within ttl, and reports whether it queued it. Marking the id seen
// and queueing the event are one script on one slot: a crash leaves both
// or neither, so a delivery is never marked seen without its event, and a
// forge's re-send of it is queued rather than dropped as a repeat.
func (s *Store) EnqueueDelivery(ctx context.Context, id string, ttl time.Duration, data []byte) (bool, error) {
	if id == "" {
		return false, fmt.Errorf("enqueue delivery: empty id")
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("enqueue delivery %s: ttl %s, want at least 1ms", id, ttl)
	}
	keys := []string{s.deliveryKey(id), s.opts.EventStream}
	res, err := s.scripts.enqueue.Run(ctx, s.rdb, keys, ttl.Milliseconds(), s.opts.EventsMaxLen, data).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("enqueue delivery %s: %w", id, full(err))
	}
	if _, ok := res.(string); !ok {
		return false, fmt.Errorf("enqueue delivery %s: unexpected answer %v", id, res)
	}
	return true, nil
}
