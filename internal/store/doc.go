// Package store keeps trains, their leases and merge history, the event
// stream and delivery de-duplication in Redis.
//
// # Key layout
//
// Every key of one train carries the same hash tag, the escaped train key:
//
//	<prefix>:{<forge>:<project>:<branch>}:train    hash: v (version), d (JSON)
//	<prefix>:{<forge>:<project>:<branch>}:lease    string: owner token, with expiry
//	<prefix>:{<forge>:<project>:<branch>}:history  stream of departed cars
//
// Redis Cluster places a key by its hash tag, so all keys of a train live in
// one slot and every script or transaction here touches that one slot only.
// Keys that span trains are plain keys, each in a slot of its own, and are
// never combined with a train's keys in one script:
//
//	<prefix>:trains             set of the hash tags of all trains (the index)
//	<prefix>:events             event stream, read through consumer groups
//	<prefix>:delivery:<id>      marks a webhook delivery as seen
//
// The parts of a train key are escaped (%, :, { and }) so that no two trains
// share a key and no branch name can move the hash tag.
//
// # Concurrency
//
// A save is a compare-and-set on the version in one Lua script: it reads the
// version field, compares it with the one the caller loaded and writes the
// new version and JSON together, without decoding the JSON. Of two writers
// that loaded the same version exactly one wins; the other gets ErrConflict,
// reloads and plans again. Leases are owner tokens set if absent with an
// expiry; renew and release compare the owner first, in a script, so a worker
// whose lease expired can never release or extend another worker's lease.
//
// The index is updated outside the train's script, because it lives in
// another slot. Every save adds the train to it, so an index entry lost to a
// crash comes back with the next save, and List skips entries whose train no
// longer exists.
package store
