package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/train"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultPrefix       = "trainyard"
	DefaultHistoryLen   = 1000
	DefaultEventsMaxLen = 100000
)

// Options tune a Store.
type Options struct {
	// Prefix starts every key, so several installations can share a server.
	Prefix string
	// HistoryLen is about how many departed cars each train keeps; Redis
	// trims to it approximately, which is much cheaper than exactly.
	HistoryLen int64
	// EventStream is the key of the event stream; default "<prefix>:events".
	// A name holding "}" must carry a hash tag ("{...}"): delivery marks and
	// dead letters are kept in the stream's slot.
	EventStream string
	// EventsMaxLen caps the event stream, approximately.
	EventsMaxLen int64
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.HistoryLen <= 0 {
		o.HistoryLen = DefaultHistoryLen
	}
	if o.EventStream == "" {
		// Braces escaped as in every other key, so the stream has no hash
		// tag of its own and its name can be one.
		o.EventStream = strings.NewReplacer("{", "%7B", "}", "%7D").Replace(o.Prefix) + ":events"
	}
	if o.EventsMaxLen <= 0 {
		o.EventsMaxLen = DefaultEventsMaxLen
	}
	return o
}

// Store reads and writes trainyard's state in Redis. It is safe for
// concurrent use; several processes may share one server.
type Store struct {
	rdb     redis.UniversalClient
	opts    Options
	prefix  string // Options.Prefix with hash tag braces escaped
	escaper *strings.Replacer
	scripts scripts
	// stagePrefix and stageSeq name staged records uniquely across
	// processes, so concurrent saves never stage over each other.
	stagePrefix string
	stageSeq    atomic.Uint64
	buffers     sync.Pool
}

// stageTTL bounds the life of a staged record whose save never ran.
const stageTTL = time.Minute

// New returns a Store on client. A brace in opts.Prefix is escaped, because
// it would change the hash tag of every key.
func New(client redis.UniversalClient, opts Options) *Store {
	opts = opts.withDefaults()
	esc := strings.NewReplacer("%", "%25", ":", "%3A", "{", "%7B", "}", "%7D")
	braces := strings.NewReplacer("{", "%7B", "}", "%7D")
	return &Store{
		rdb:         client,
		opts:        opts,
		prefix:      braces.Replace(opts.Prefix),
		escaper:     esc,
		scripts:     newScripts(),
		stagePrefix: rand.Text()[:13],
		buffers:     sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

func (s *Store) stageID() string {
	return s.stagePrefix + "-" + strconv.FormatUint(s.stageSeq.Add(1), 10)
}

// Ping reports whether Redis answers, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// tag is the hash tag of a train's keys: its key with each part escaped, so
// that distinct trains never share a tag and no part can end the tag early.
func (s *Store) tag(k train.Key) string {
	return s.escaper.Replace(k.Forge) + ":" + s.escaper.Replace(k.Project) + ":" + s.escaper.Replace(k.Branch)
}

// parseTag turns a tag back into the train key.
func parseTag(tag string) (train.Key, error) {
	parts := strings.Split(tag, ":")
	if len(parts) != 3 {
		return train.Key{}, fmt.Errorf("train tag %q: want 3 parts, have %d", tag, len(parts))
	}
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			return train.Key{}, fmt.Errorf("train tag %q: %w", tag, err)
		}
		parts[i] = u
	}
	return train.Key{Forge: parts[0], Project: parts[1], Branch: parts[2]}, nil
}

func (s *Store) trainKeyOf(k train.Key, kind string) string {
	return s.prefix + ":{" + s.tag(k) + "}:" + kind
}

func (s *Store) trainKey(k train.Key) string   { return s.trainKeyOf(k, "train") }
func (s *Store) leaseKey(k train.Key) string   { return s.trainKeyOf(k, "lease") }
func (s *Store) historyKey(k train.Key) string { return s.trainKeyOf(k, "history") }
func (s *Store) indexKey() string              { return s.prefix + ":trains" }

func (s *Store) commandKey(id string) string  { return s.prefix + ":command:" + s.escaper.Replace(id) }
func (s *Store) markKey(name string) string   { return s.prefix + ":mark:" + s.escaper.Replace(name) }
func (s *Store) cursorKey(name string) string { return s.prefix + ":cursor:" + s.escaper.Replace(name) }
func (s *Store) onceKey(name string) string   { return s.prefix + ":once:" + s.escaper.Replace(name) }
func (s *Store) lockKey(name string) string   { return s.prefix + ":lock:" + s.escaper.Replace(name) }

// deliveryKey shares the event stream's slot, so that marking a delivery
// seen and queueing its event can be one script on Redis Cluster.
func (s *Store) deliveryKey(id string) string {
	return s.prefix + ":delivery:{" + slotTag(s.opts.EventStream) + "}:" + id
}

// deadKey is the dead-letter stream, in the event stream's slot too: an
// event moves there and is acknowledged in one script.
func (s *Store) deadKey() string { return s.prefix + ":dead:{" + slotTag(s.opts.EventStream) + "}" }

// slotTag is what Redis Cluster hashes to place key: its hash tag, or the
// whole key when it has none. Another key carrying {slotTag(key)} lands
// in the same slot.
func slotTag(key string) string {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			return key[open+1 : open+1+n]
		}
	}
	return key
}
