package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/train"
)

// A train's inbox holds work that a replica could not do because another
// held the train's lease: the holder takes it before it lets the lease
// go, so a pipeline's result is planned by the replica that already has
// the train loaded and its commits in its mirror, instead of waiting for
// the lease to change hands. Whoever takes the lease next takes what is
// left, so a holder that dies loses nothing.

// inboxTTL bounds how long forwarded work waits for a holder. Every
// holder and the forwarder's own retry take it long before; past this it
// is dropped, and the sweep reads what it said from the forge again.
const inboxTTL = time.Hour

// inboxMax bounds an inbox that nobody takes: the oldest work is dropped
// first, as the sweep reads it again.
const inboxMax = 10000

// inboxKey shares the lease's slot, so the inbox moves with its train on
// Redis Cluster.
func (s *Store) inboxKey(k train.Key) string { return s.trainKeyOf(k, "inbox") }

// Forwarded is one item of a train's inbox.
type Forwarded struct {
	// ID tells apart two forwards of the same work.
	ID   string
	Work string
}

// item is f as the inbox list holds it.
func (f Forwarded) item() string { return f.ID + " " + f.Work }

// Forward adds work to the train's inbox for whoever holds its lease.
func (s *Store) Forward(ctx context.Context, key train.Key, work string) error {
	ik := s.inboxKey(key)
	f := Forwarded{ID: rand.Text()[:16], Work: work}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, ik, f.item())
		p.LTrim(ctx, ik, -inboxMax, -1)
		p.PExpire(ctx, ik, inboxTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("forward work to train %s: %w", key, err)
	}
	return nil
}

// InboxLen is how many items wait in the train's inbox.
func (s *Store) InboxLen(ctx context.Context, key train.Key) (int64, error) {
	n, err := s.rdb.LLen(ctx, s.inboxKey(key)).Result()
	if err != nil {
		return 0, fmt.Errorf("read the inbox of train %s: %w", key, err)
	}
	return n, nil
}

// PeekInbox returns the work waiting in the train's inbox, oldest first,
// and leaves it there: the holder drops it (DropInbox) once the pass that
// planned it has saved, so a holder that dies before leaves it to the
// next.
func (s *Store) PeekInbox(ctx context.Context, key train.Key) ([]Forwarded, error) {
	got, err := s.rdb.LRange(ctx, s.inboxKey(key), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read the inbox of train %s: %w", key, err)
	}
	out := make([]Forwarded, 0, len(got))
	for _, it := range got {
		id, work, _ := strings.Cut(it, " ")
		out = append(out, Forwarded{ID: id, Work: work})
	}
	return out, nil
}

// DropInbox removes from the train's inbox the items a PeekInbox of
// owner's returned, and nothing else, while owner holds the train's
// lease. ErrLeaseLost: another holds it (or none), who may not have
// planned them yet; they are left to it.
func (s *Store) DropInbox(ctx context.Context, key train.Key, owner string, items []Forwarded) error {
	if len(items) == 0 {
		return nil
	}
	args := make([]any, 0, len(items)+1)
	args = append(args, owner)
	for _, f := range items {
		args = append(args, f.item())
	}
	n, err := s.scripts.dropInbox.Run(ctx, s.rdb, []string{s.leaseKey(key), s.inboxKey(key)}, args...).Int64()
	return ownerResult("drop the inbox under the", key, n, err)
}

// dropInboxLua: KEYS: the lease, the inbox. ARGV: owner, then the items
// to remove. Returns 1 if the owner held the lease. The items read are
// almost always still first, so they are popped from the head; only those
// a forward's cap or another holder moved are looked for in the list.
const dropInboxLua = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local read, left = {}, 0
for i = 2, #ARGV do
  if not read[ARGV[i]] then
    read[ARGV[i]] = true
    left = left + 1
  end
end
while left > 0 do
  local head = redis.call('LINDEX', KEYS[2], 0)
  if not head or not read[head] then
    break
  end
  redis.call('LPOP', KEYS[2])
  read[head] = nil
  left = left - 1
end
if left > 0 then
  for item in pairs(read) do
    redis.call('LREM', KEYS[2], 1, item)
  end
end
return 1
`
