// Package store keeps trains, their leases and merge history, the event
// stream and delivery de-duplication in Redis.
//
// # Key layout
//
// Every key of one train carries the same hash tag, the escaped train key:
//
//	<prefix>:{<forge>:<project>:<branch>}:train    hash: v (version), d (JSON), s (schema of d; schema.go)
//	<prefix>:{<forge>:<project>:<branch>}:lease    string: owner token, with expiry
//	<prefix>:{<forge>:<project>:<branch>}:leasewait  someone failed to take the lease lately
//	<prefix>:{<forge>:<project>:<branch>}:inbox    list: work forwarded to the lease's holder (inbox.go)
//	<prefix>:{<forge>:<project>:<branch>}:history  stream of departed cars
//	<prefix>:{<forge>:<project>:<branch>}:stage:<id>  a save in flight
//
// Redis Cluster places a key by its hash tag, so all keys of a train live in
// one slot and every script or transaction here touches that one slot only.
// Keys that span trains are plain keys, each in a slot of its own, and are
// never combined with a train's keys in one script. Delivery marks and the
// dead-letter stream carry the event stream's name as their hash tag
// (<events> below), so that queueing an event and marking its delivery,
// or burying an event and acknowledging it, are each one script:
//
//	<prefix>:trains             set of the hash tags of all trains (the index)
//	<prefix>:events             event stream, read through consumer groups
//	<prefix>:delivery:{<events>}:<id>  marks a webhook delivery as seen
//	<prefix>:dead:{<events>}    dead-letter stream of events given up on
//	<prefix>:command:<id>       a /train command claimed or done, by comment id
//	<prefix>:mark:<name>        a small fact kept for a while: a note posted, an
//	                            MR's status comment and commit status, a role
//	<prefix>:cursor:<name>      how far the catch-up of missed commands read
//	<prefix>:once:<name>        work one replica does per interval
//	<prefix>:lock:<name>        a lease on something else than a train (a command)
//	<prefix>:notify:{<route>}:due|data|sent:<id>  a chat route's waiting messages (notify.go)
//
// Two Pub/Sub channels carry hints between replicas, never needed for
// correctness: <prefix>:leases-freed (a train's hash tag, published by
// the release of an awaited lease) and <prefix>:leases-wanted (published
// by a replica that could not take a lease for a pipeline's result).
//
// The parts of a train key are escaped (%, :, { and }) so that no two trains
// share a key and no branch name can move the hash tag.
//
// # Concurrency
//
// A save is a compare-and-set on the version in one Lua script. In one
// transaction the new record (version and JSON) is staged under a key of its
// own in the train's slot, and the script compares the stored version with
// the one the caller loaded and, if they match, renames the staged record
// over the train. The JSON never passes through Lua: handing a large
// argument to the interpreter costs many times more than the rest of the
// save. Of two writers that loaded the same version exactly one wins; the
// other gets ErrConflict and changes nothing: the engine gives up that
// handling (the event is redelivered, or the sweep looks again) and the
// next one loads the winner's train. Leases are owner tokens set if
// absent with an expiry; renew and release compare the owner first, in a script, so a worker
// whose lease expired can never release or extend another worker's lease.
//
// The index is updated outside the train's script, because it lives in
// another slot. Every save adds the train to it, so an index entry lost to a
// crash comes back with the next save, and List skips entries whose train no
// longer exists.
package store
