package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultDeadMaxLen caps the dead-letter stream, approximately.
const DefaultDeadMaxLen = 10000

// maxReason bounds the reason kept with a dead letter: an error can quote
// a whole forge answer.
const maxReason = 2000

// DeadLetter is an event that was given up on: it failed or panicked too
// often to be tried again by itself.
type DeadLetter struct {
	// ID is the dead letter's own id; Entry the event stream entry it was.
	ID         string
	Entry      string
	Data       []byte
	Reason     string
	Deliveries int64
	At         time.Time
}

// Bury moves event entry of group to the dead-letter stream: the dead
// letter is added and the entry acknowledged in one script, so a crash
// neither loses the event nor leaves it both pending and buried.
func (s *Store) Bury(ctx context.Context, group string, ev Event, reason string, at time.Time) (string, error) {
	if len(reason) > maxReason {
		reason = reason[:maxReason] + "…"
	}
	keys := []string{s.opts.EventStream, s.deadKey()}
	id, err := s.scripts.bury.Run(ctx, s.rdb, keys, group, ev.ID, ev.Data, reason, ev.Deliveries, at.UnixMilli(), DefaultDeadMaxLen).Text()
	if err != nil {
		return "", fmt.Errorf("bury event %s: %w", ev.ID, err)
	}
	return id, nil
}

// DeadLetters returns up to count dead letters, newest first.
func (s *Store) DeadLetters(ctx context.Context, count int64) ([]DeadLetter, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.deadKey(), "+", "-", count).Result()
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, deadLetterOf(m))
	}
	return out, nil
}

// DeadLetterCount is the number of dead letters kept.
func (s *Store) DeadLetterCount(ctx context.Context) (int64, error) {
	n, err := s.rdb.XLen(ctx, s.deadKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("count dead letters: %w", err)
	}
	return n, nil
}

// DeadLetter returns one dead letter; ErrNotFound if there is none by id.
func (s *Store) DeadLetter(ctx context.Context, id string) (DeadLetter, error) {
	if _, _, err := parseEntryID(id); err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter %q: %w", id, ErrNotFound)
	}
	msgs, err := s.rdb.XRange(ctx, s.deadKey(), id, id).Result()
	if err != nil {
		return DeadLetter{}, fmt.Errorf("read dead letter %s: %w", id, err)
	}
	if len(msgs) == 0 {
		return DeadLetter{}, fmt.Errorf("dead letter %s: %w", id, ErrNotFound)
	}
	return deadLetterOf(msgs[0]), nil
}

// Requeue puts a dead letter's event back on the event stream as a new
// entry and removes the dead letter, in one script. ErrNotFound if there
// is no such dead letter (requeued already, say).
func (s *Store) Requeue(ctx context.Context, id string) (string, error) {
	if _, _, err := parseEntryID(id); err != nil {
		return "", fmt.Errorf("requeue dead letter %q: %w", id, ErrNotFound)
	}
	keys := []string{s.deadKey(), s.opts.EventStream}
	entry, err := s.scripts.unbury.Run(ctx, s.rdb, keys, id, s.opts.EventsMaxLen).Text()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("requeue dead letter %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("requeue dead letter %s: %w", id, full(err))
	}
	return entry, nil
}

// parseEntryID checks a stream entry id ("1700000000000-0"), so a caller's
// text never reaches Redis as a range bound such as "-" or "+".
func parseEntryID(id string) (ms, seq uint64, err error) {
	a, b, ok := cutDash(id)
	if !ok {
		return 0, 0, fmt.Errorf("entry id %q: want <ms>-<seq>", id)
	}
	if ms, err = strconv.ParseUint(a, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("entry id %q: %w", id, err)
	}
	if seq, err = strconv.ParseUint(b, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("entry id %q: %w", id, err)
	}
	return ms, seq, nil
}

func cutDash(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '-' {
			return s[:i], s[i+1:], i > 0 && i < len(s)-1
		}
	}
	return "", "", false
}

func deadLetterOf(m redis.XMessage) DeadLetter {
	d := DeadLetter{ID: m.ID}
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	d.Entry = str("entry")
	if v, ok := m.Values["data"].(string); ok {
		d.Data = []byte(v)
	}
	d.Reason = str("reason")
	d.Deliveries, _ = strconv.ParseInt(str("deliveries"), 10, 64)
	if ms, err := strconv.ParseInt(str("at"), 10, 64); err == nil {
		d.At = time.UnixMilli(ms).UTC()
	}
	return d
}
