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
// commands, and must be acted on once.

// Claim states of a command, as ClaimCommand answers.
const (
	// CommandClaimed: the caller holds the command and should act on it,
	// then call FinishCommand.
	CommandClaimed = "claimed"
	// CommandDone: the command was acted on already.
	CommandDone = "done"
	// CommandBusy: another worker holds it now; try again later.
	CommandBusy = "busy"
)

// ClaimCommand claims command id for owner for ttl, unless it is done or
// another owner's claim still holds. A claim that outlived its worker
// expires, so a crash delays a command and never loses it.
func (s *Store) ClaimCommand(ctx context.Context, id, owner string, ttl time.Duration) (string, error) {
	if err := checkLease(owner, ttl); err != nil {
		return "", fmt.Errorf("claim command %s: %w", id, err)
	}
	state, err := s.scripts.claimCommand.Run(ctx, s.rdb, []string{s.commandKey(id)}, owner, ttl.Milliseconds()).Text()
	if err != nil {
		return "", fmt.Errorf("claim command %s: %w", id, err)
	}
	return state, nil
}

// FinishCommand marks command id done for keep.
func (s *Store) FinishCommand(ctx context.Context, id string, keep time.Duration) error {
	if err := s.rdb.Set(ctx, s.commandKey(id), CommandDone, keep).Err(); err != nil {
		return fmt.Errorf("finish command %s: %w", id, err)
	}
	return nil
}

// CommandsDone reports which of ids are done, in one round trip (a
// pipeline, which a cluster client splits by slot).
func (s *Store) CommandsDone(ctx context.Context, ids []string) (map[string]bool, error) {
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
		out[ids[i]] = c.Val() == CommandDone
	}
	return out, nil
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
