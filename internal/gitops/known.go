package gitops

import (
	"sync"
	"time"
)

// knownCommits remembers commits the mirror was seen to hold lately: the
// ones it wrote, fetched or was asked about, so that asking again costs no
// git process. An object a mirror holds only goes away when gc prunes it,
// and gc prunes nothing younger than two weeks; an hour is far inside
// that.
type knownCommits struct {
	mu sync.Mutex
	at map[string]time.Time
}

const (
	knownFor = time.Hour
	// knownMax bounds the memory: past it the set starts again.
	knownMax = 4096
)

func (k *knownCommits) add(sha string) {
	if checkSHA(sha) != nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.at == nil || len(k.at) >= knownMax {
		k.at = make(map[string]time.Time, 64)
	}
	k.at[sha] = time.Now()
}

func (k *knownCommits) has(sha string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	at, ok := k.at[sha]
	return ok && time.Since(at) < knownFor
}
