package notify

import "sync"

// recent remembers the last few keys, oldest forgotten first, so an event
// the engine repeats (an outbox replayed after a failed save) is posted
// once per process.
type recent struct {
	mu   sync.Mutex
	seq  uint64
	keys map[string]uint64
	// ring holds keys in insertion order with the sequence they were
	// added under; a slot whose sequence no longer matches the map was
	// forgotten or added again since, and is skipped on eviction.
	ring []slot
	next int
}

type slot struct {
	key string
	seq uint64
}

func newRecent(size int) *recent {
	return &recent{keys: make(map[string]uint64, size), ring: make([]slot, size)}
}

// add remembers key and reports whether it was new.
func (r *recent) add(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[key]; ok {
		return false
	}
	old := r.ring[r.next]
	if s, ok := r.keys[old.key]; ok && s == old.seq {
		delete(r.keys, old.key)
	}
	r.seq++
	r.keys[key] = r.seq
	r.ring[r.next] = slot{key: key, seq: r.seq}
	r.next = (r.next + 1) % len(r.ring)
	return true
}

// forget drops key, so a repeat of an event that was not delivered is
// tried again.
func (r *recent) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.keys, key)
}
