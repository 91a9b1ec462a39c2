package store

import (
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/train"
)

func TestClusterSlotMatchesRedis(t *testing.T) {
	// Answers of CLUSTER KEYSLOT on redis-server 7.0.
	for key, want := range map[string]int{
		"123456789":            12739,
		"foo":                  12182,
		"{user1000}.following": 3443,
		"foo{}{bar}":           8363,
		"foo{{bar}}zap":        4015,
		"trainyard:{gitlab:group/project:main}:train": 1766,
	} {
		if got := redistest.KeySlot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestKeysOfOneTrainShareSlot(t *testing.T) {
	keys := []train.Key{
		testKey,
		{Forge: "github", Project: "org/repo", Branch: "release/{1.0}"},
		{Forge: "gitlab", Project: "g/p", Branch: "}"},
		{Forge: "gitlab", Project: "g/p", Branch: "a:b"},
		{Forge: "gitlab", Project: "g/p:a", Branch: "b"},
	}
	for _, prefix := range []string{"", "my{app}", "x}"} {
		s := New(nil, Options{Prefix: prefix})
		tags := map[string]train.Key{}
		for _, k := range keys {
			tk, lk, hk := s.trainKey(k), s.leaseKey(k), s.historyKey(k)
			if a, b, c := redistest.KeySlot(tk), redistest.KeySlot(lk), redistest.KeySlot(hk); a != b || b != c {
				t.Errorf("prefix %q, train %s: slots %d, %d, %d of %s, %s, %s differ", prefix, k, a, b, c, tk, lk, hk)
			}
			tag := tk[strings.IndexByte(tk, '{')+1 : strings.IndexByte(tk, '}')]
			if tag != s.tag(k) {
				t.Errorf("prefix %q, train %s: hash tag of %s is %q, want %q", prefix, k, tk, tag, s.tag(k))
			}
			if other, dup := tags[tag]; dup {
				t.Errorf("trains %s and %s share hash tag %q", other, k, tag)
			}
			tags[tag] = k
			if back, err := parseTag(tag); err != nil || back != k {
				t.Errorf("parse of tag %q = %v (%v), want %s", tag, back, err, k)
			}
		}
	}
}

func TestEventKeysShareSlot(t *testing.T) {
	for _, opts := range []Options{{}, {Prefix: "my{app}"}, {Prefix: "x}"}, {Prefix: "p", EventStream: "{ev}:stream"}, {Prefix: "p", EventStream: "plain-stream"}} {
		s := New(nil, opts)
		stream := s.opts.EventStream
		for _, k := range []string{s.deliveryKey("abc"), s.deliveryKey("{odd}:id"), s.deadKey()} {
			if redistest.KeySlot(k) != redistest.KeySlot(stream) {
				t.Errorf("options %+v: %s is in slot %d, the stream %s in %d", opts, k, redistest.KeySlot(k), stream, redistest.KeySlot(stream))
			}
		}
	}
}
