package gitops

import (
	"sync"
	"time"
)

// knownCommits remembers commits the mirror was seen to hold lately: the
// ones it wrote, fetched or was asked about, so that asking again costs no
// git process. An object goes away only when git's maintenance prunes it,
// which the mirror runs itself (see Repo.maintain) and which forgets
// everything known first; an hour bounds the rest (a gc run by hand).
type knownCommits struct {
	mu  sync.Mutex
	at  map[string]time.Time
	gen uint64 // counts forgets
}

const (
	knownFor = time.Hour
	// knownMax bounds the memory: past it the set starts again.
	knownMax = 4096
)

// generation is what a look must pass to add, so that a forget during
// the look wins over what it found.
func (k *knownCommits) generation() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gen
}

// add remembers sha, unless everything was forgotten since generation gen.
func (k *knownCommits) add(sha string, gen uint64) {
	if checkSHA(sha) != nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if gen != k.gen {
		return
	}
	if k.at == nil || len(k.at) >= knownMax {
		k.at = make(map[string]time.Time, 64)
	}
	k.at[sha] = time.Now()
}

// forget drops everything known: objects may be pruned from now on.
func (k *knownCommits) forget() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.at = nil
	k.gen++
}

func (k *knownCommits) has(sha string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	at, ok := k.at[sha]
	return ok && time.Since(at) < knownFor
}
