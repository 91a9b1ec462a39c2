package store

import (
	"errors"
	"fmt"

	"github.com/trainyard/trainyard/internal/train"
)

var (
	// ErrNotFound: the train does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the train changed since it was loaded; reload and retry.
	ErrConflict = errors.New("version conflict")
	// ErrLeaseLost: the lease expired or belongs to another owner, so the
	// caller must stop working on the train.
	ErrLeaseLost = errors.New("lease lost")
	// ErrCorrupt: a stored record does not decode.
	ErrCorrupt = errors.New("corrupt record")
)

// ConflictError is the ErrConflict of a save: the caller saved over version
// Want while the store holds version Have (0: the train does not exist).
type ConflictError struct {
	Key  train.Key
	Want int64
	Have int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("train %s: %v: saved over version %d, stored version is %d", e.Key, ErrConflict, e.Want, e.Have)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// CorruptError names a stored record that does not decode: the Redis key and,
// for stream entries, the entry id.
type CorruptError struct {
	RedisKey string
	EntryID  string // empty for records that are not stream entries
	Err      error
}

func (e *CorruptError) Error() string {
	if e.EntryID != "" {
		return fmt.Sprintf("%v: %s entry %s: %v", ErrCorrupt, e.RedisKey, e.EntryID, e.Err)
	}
	return fmt.Sprintf("%v: %s: %v", ErrCorrupt, e.RedisKey, e.Err)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func (e *CorruptError) Unwrap() error { return e.Err }
