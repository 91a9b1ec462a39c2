package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/train"
)

// Load returns the stored train, with its current version.
func (s *Store) Load(ctx context.Context, key train.Key) (train.Train, error) {
	rkey := s.trainKey(key)
	vals, err := s.rdb.HMGet(ctx, rkey, "v", "d", schemaField).Result()
	if err != nil {
		return train.Train{}, fmt.Errorf("load train %s: %w", key, err)
	}
	if vals[0] == nil && vals[1] == nil {
		return train.Train{}, fmt.Errorf("load train %s: %w", key, ErrNotFound)
	}
	t, err := decodeTrain(rkey, key, vals[0], vals[1], vals[2])
	if err != nil {
		return train.Train{}, fmt.Errorf("load train %s: %w", key, err)
	}
	return t, nil
}

// Exists tells whether a train is stored, without reading it.
func (s *Store) Exists(ctx context.Context, key train.Key) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.trainKey(key)).Result()
	if err != nil {
		return false, fmt.Errorf("look for train %s: %w", key, err)
	}
	return n == 1, nil
}

// decodeTrain builds a train from the hash fields of rkey, migrating an
// older schema. The version field wins over the one inside the JSON: it is
// the one saves compare against.
func decodeTrain(rkey string, key train.Key, v, d, schema any) (train.Train, error) {
	vs, _ := v.(string)
	version, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return train.Train{}, &CorruptError{RedisKey: rkey, Err: fmt.Errorf("version %q: %w", vs, err)}
	}
	from, err := parseSchema(rkey, schema)
	if err != nil {
		return train.Train{}, err
	}
	ds, _ := d.(string)
	data, err := migrateTrain([]byte(ds), from)
	if err != nil {
		return train.Train{}, &CorruptError{RedisKey: rkey, Err: err}
	}
	var t train.Train
	if err := json.Unmarshal(data, &t); err != nil {
		return train.Train{}, &CorruptError{RedisKey: rkey, Err: err}
	}
	if t.Key != key {
		return train.Train{}, &CorruptError{RedisKey: rkey, Err: fmt.Errorf("record holds train %s", t.Key)}
	}
	t.Version = version
	return t, nil
}

// Save stores t if the stored version is still t.Version (0: the train must
// not exist yet) and returns it with the new version, t.Version+1. If another
// save came first it returns a *ConflictError (errors.Is ErrConflict).
func (s *Store) Save(ctx context.Context, t train.Train) (train.Train, error) {
	if err := t.Key.Validate(); err != nil {
		return t, fmt.Errorf("save train %s: %w", t.Key, err)
	}
	if t.Version < 0 {
		return t, fmt.Errorf("save train %s: negative version %d", t.Key, t.Version)
	}
	next := t
	next.Version = t.Version + 1
	buf := s.buffers.Get().(*bytes.Buffer)
	defer s.buffers.Put(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(next); err != nil {
		return t, fmt.Errorf("save train %s: encode: %w", t.Key, err)
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if t.Version == 0 {
		// Index first: a train that exists is always listed. A create that
		// then fails leaves an entry that List skips.
		if err := s.rdb.SAdd(ctx, s.indexKey(), s.tag(t.Key)).Err(); err != nil {
			return t, fmt.Errorf("save train %s: index: %w", t.Key, err)
		}
	}
	res, err := s.compareAndSwap(ctx, t.Key, t.Version, next.Version, data)
	if err != nil {
		return t, fmt.Errorf("save train %s: %w", t.Key, err)
	}
	if len(res) != 2 {
		return t, fmt.Errorf("save train %s: script answered %v", t.Key, res)
	}
	if res[0] != 1 {
		return t, fmt.Errorf("save train %s: %w", t.Key, &ConflictError{Key: t.Key, Want: t.Version, Have: res[1]})
	}
	return next, nil
}

// compareAndSwap stages the new record under a key of its own in the
// train's slot and runs the save script on it, all in one transaction. The
// stage expires in case the script cannot run (it was not cached: then it is
// sent again).
func (s *Store) compareAndSwap(ctx context.Context, key train.Key, want, next int64, data []byte) ([]int64, error) {
	keys := []string{s.trainKey(key), s.trainKeyOf(key, "stage:"+s.stageID()), s.historyKey(key)}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, keys[1], "v", next, "d", data, schemaField, trainSchema)
	pipe.PExpire(ctx, keys[1], stageTTL)
	cas := s.scripts.save.EvalSha(ctx, pipe, keys, want)
	_, _ = pipe.Exec(ctx) // the script's own error is the one that matters
	if redis.HasErrorPrefix(cas.Err(), "NOSCRIPT") {
		return s.scripts.save.Eval(ctx, s.rdb, keys, want).Int64Slice()
	}
	return cas.Int64Slice()
}

// List returns the keys of all trains, sorted by forge, project and branch.
func (s *Store) List(ctx context.Context) ([]train.Key, error) {
	tags, err := s.rdb.SMembers(ctx, s.indexKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list trains: %w", err)
	}
	keys := make([]train.Key, 0, len(tags))
	for _, tag := range tags {
		k, err := parseTag(tag)
		if err != nil {
			return nil, fmt.Errorf("list trains: %w", &CorruptError{RedisKey: s.indexKey(), Err: err})
		}
		keys = append(keys, k)
	}
	keys, err = s.existing(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("list trains: %w", err)
	}
	slices.SortFunc(keys, compareKeys)
	return keys, nil
}

// existing drops the keys whose train record is gone: index entries left by
// a failed create or an interrupted delete.
func (s *Store) existing(ctx context.Context, keys []train.Key) ([]train.Key, error) {
	if len(keys) == 0 {
		return keys, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Exists(ctx, s.trainKey(k))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := keys[:0]
	for i, k := range keys {
		if cmds[i].Val() == 1 {
			out = append(out, k)
		}
	}
	return out, nil
}

func compareKeys(a, b train.Key) int {
	return cmp.Or(cmp.Compare(a.Forge, b.Forge), cmp.Compare(a.Project, b.Project), cmp.Compare(a.Branch, b.Branch))
}

// retiredHistoryKeep is how long a retired train's history stays, unless
// the train is made again meanwhile.
const retiredHistoryKeep = 30 * 24 * time.Hour

// Retire removes the train if it is still at version, and its index
// entry, and reports whether it did: a save since (another worker's add,
// after a lease lapsed) keeps it. Its history stays for
// retiredHistoryKeep.
func (s *Store) Retire(ctx context.Context, key train.Key, version int64) (bool, error) {
	n, err := s.scripts.retire.Run(ctx, s.rdb, []string{s.trainKey(key), s.historyKey(key), s.inboxKey(key)}, version, retiredHistoryKeep.Milliseconds()).Int64()
	if err != nil {
		return false, fmt.Errorf("retire train %s: %w", key, err)
	}
	if n == 0 {
		return false, nil
	}
	if err := s.rdb.SRem(ctx, s.indexKey(), s.tag(key)).Err(); err != nil {
		return true, fmt.Errorf("retire train %s: index: %w", key, err)
	}
	// A create between the delete and the removal from the index found
	// its entry there and added none: put it back for that train.
	if back, err := s.Exists(ctx, key); err != nil || back {
		if err == nil {
			err = s.rdb.SAdd(ctx, s.indexKey(), s.tag(key)).Err()
		}
		if err != nil {
			return true, fmt.Errorf("retire train %s: index: %w", key, err)
		}
	}
	return true, nil
}

// Delete removes the train and its index entry; deleting a train that does
// not exist is not an error. Its merge history stays, and a lease on it
// expires by itself.
func (s *Store) Delete(ctx context.Context, key train.Key) error {
	// Record first, index second: an interrupted delete leaves an index
	// entry that List skips, never a train that List cannot see.
	if err := s.rdb.Del(ctx, s.trainKey(key)).Err(); err != nil {
		return fmt.Errorf("delete train %s: %w", key, err)
	}
	if err := s.rdb.SRem(ctx, s.indexKey(), s.tag(key)).Err(); err != nil {
		return fmt.Errorf("delete train %s: index: %w", key, err)
	}
	return nil
}
