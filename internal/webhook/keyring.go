package webhook

import (
	"crypto/sha256"

	"github.com/trainyard/trainyard/internal/forge"
)

// keyring holds one forge's webhook secrets: the forge's own, and those
// of projects whose webhooks have secrets of their own. A delivery must
// verify with one of them, and then be about a project that secret is
// for: a project's own secret speaks for that project alone, the forge's
// for every project without one (and for projects Trainyard does not run,
// whose deliveries are ignored).
type keyring struct {
	def  *key
	own  map[string]*key // by forge.ProjectKey
	keys []*key          // every distinct secret, to try in turn
}

// key is one secret and its digest, for the constant-time token check.
type key struct {
	secret []byte
	digest [sha256.Size]byte
}

func newKeyring(def string, own map[string]string) keyring {
	k := keyring{own: map[string]*key{}}
	byValue := map[string]*key{}
	add := func(s string) *key {
		if s == "" {
			return nil
		}
		if e, ok := byValue[s]; ok {
			return e
		}
		e := &key{secret: []byte(s), digest: sha256.Sum256([]byte(s))}
		byValue[s] = e
		k.keys = append(k.keys, e)
		return e
	}
	k.def = add(def)
	for project, s := range own {
		if e := add(s); e != nil {
			k.own[forge.ProjectKey(project)] = e
		}
	}
	return k
}

func (k keyring) empty() bool { return len(k.keys) == 0 }

// match returns the first key ok accepts. Every key is tried, so the
// time taken does not tell which one matched.
func (k keyring) match(ok func(*key) bool) *key {
	var found *key
	for _, e := range k.keys {
		if ok(e) && found == nil {
			found = e
		}
	}
	return found
}

// allows reports whether a delivery verified by matched may speak for
// project.
func (k keyring) allows(project string, matched *key) bool {
	if own, ok := k.own[forge.ProjectKey(project)]; ok {
		return matched == own
	}
	return matched == k.def
}
