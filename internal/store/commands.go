package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// A /train command is known by the forge's id of the comment that holds
// it, never by the webhook delivery that brought it: the same comment may
// arrive under several deliveries, or be found by the catch-up of missed
// commands, and must be acted on once. Its mark says "queued" once an
// event for it is on the stream, and "done" once it was acted on.

const (
	commandQueued = "queued"
	commandDone   = "done"
)

// MarkCommandQueued notes that an event for command id is on the stream,
// unless the command is marked already, so the catch-up does not queue it
// again.
func (s *Store) MarkCommandQueued(ctx context.Context, id string, ttl time.Duration) error {
	if err := s.rdb.SetNX(ctx, s.commandKey(id), commandQueued, ttl).Err(); err != nil {
		return fmt.Errorf("mark command %s queued: %w", id, err)
	}
	return nil
}

// CommandDone reports whether command id was acted on.
func (s *Store) CommandDone(ctx context.Context, id string) (bool, error) {
	v, err := s.rdb.Get(ctx, s.commandKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read command %s: %w", id, err)
	}
	return v == commandDone, nil
}

// FinishCommand marks command id done for keep.
func (s *Store) FinishCommand(ctx context.Context, id string, keep time.Duration) error {
	if err := s.rdb.Set(ctx, s.commandKey(id), commandDone, keep).Err(); err != nil {
		return fmt.Errorf("finish command %s: %w", id, err)
	}
	return nil
}

// CommandsSeen reports which of ids are queued or done, in one round trip
// (a pipeline, which a cluster client splits by slot).
func (s *Store) CommandsSeen(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.Get(ctx, s.commandKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read %d command marks: %w", len(ids), err)
	}
	for i, c := range cmds {
		out[ids[i]] = c.Val() != ""
	}
	return out, nil
}

// A mark is a short value kept for a while under a name: what the engine
// must remember between passes and replicas, such as whether a note was
// posted or which head an MR not yet on its train was seen at.

// Marks of a note Trainyard posts on an MR. Its mark says "posting" while
// it is being posted and "posted" after, so each note is posted once
// without reading the MR's notes first; only after a crash between the
// two marks must the notes be read to tell.
const (
	NotePosting = "posting"
	NotePosted  = "posted"
)

// Mark returns the mark called name, "" when there is none.
func (s *Store) Mark(ctx context.Context, name string) (string, error) {
	v, err := s.rdb.Get(ctx, s.markKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read mark %s: %w", name, err)
	}
	return v, nil
}

// SetMark sets the mark called name to value for keep.
func (s *Store) SetMark(ctx context.Context, name, value string, keep time.Duration) error {
	if err := s.rdb.Set(ctx, s.markKey(name), value, keep).Err(); err != nil {
		return fmt.Errorf("set mark %s: %w", name, err)
	}
	return nil
}

// MarkOnce sets the mark called name to value, for good, unless it is
// set already, and returns the mark as it then is: every replica gets
// the value the first one set.
func (s *Store) MarkOnce(ctx context.Context, name, value string) (string, error) {
	if err := s.rdb.SetNX(ctx, s.markKey(name), value, 0).Err(); err != nil {
		return "", fmt.Errorf("set mark %s once: %w", name, err)
	}
	v, err := s.Mark(ctx, name)
	if err == nil && v == "" {
		err = fmt.Errorf("mark %s vanished once set", name)
	}
	return v, err
}

// Cursor returns the time a catch-up named name read up to; ok is false
// when it never ran.
func (s *Store) Cursor(ctx context.Context, name string) (t time.Time, ok bool, err error) {
	v, err := s.rdb.Get(ctx, s.cursorKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read cursor %s: %w", name, err)
	}
	t, err = time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false, &CorruptError{RedisKey: s.cursorKey(name), Err: err}
	}
	return t, true, nil
}

// SetCursor records how far the catch-up named name has read.
func (s *Store) SetCursor(ctx context.Context, name string, t time.Time) error {
	if err := s.rdb.Set(ctx, s.cursorKey(name), t.UTC().Format(time.RFC3339Nano), 0).Err(); err != nil {
		return fmt.Errorf("write cursor %s: %w", name, err)
	}
	return nil
}

// Once reports whether the caller is the first to ask for name within
// ttl, across every replica: the rest skip work one of them does.
func (s *Store) Once(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		return false, fmt.Errorf("once %s: ttl %s, want at least 1ms", name, ttl)
	}
	ok, err := s.rdb.SetNX(ctx, s.onceKey(name), 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("once %s: %w", name, err)
	}
	return ok, nil
}
