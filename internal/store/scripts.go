package store

import "github.com/redis/go-redis/v9"

// Each script touches keys of one slot only (one train's, or the event
// stream's), so it runs on Redis Cluster.
type scripts struct {
	save, renew, release *redis.Script
	// acquireLease, awaitLease and releaseLease keep a lease's wait mark
	// (leasefree.go).
	acquireLease, awaitLease, releaseLease *redis.Script
	enqueue, bury, unbury                  *redis.Script
	// add queues an event on the capped stream (events.go).
	add *redis.Script
	// retire deletes a train at a version (trains.go).
	retire *redis.Script
	// dropInbox removes items of a train's inbox under its lease (inbox.go).
	dropInbox *redis.Script
	// forgetConsumer deletes a consumer that holds no event (events.go).
	forgetConsumer *redis.Script
}

func newScripts() scripts {
	return scripts{
		// KEYS: the train, its history, its inbox. ARGV: its version,
		// how long the history stays in milliseconds. Deletes the train
		// if it is still at that version and nothing waits in its inbox
		// (work forwarded since the caller looked would go to no train),
		// and lets its history expire; returns 1 if it did.
		retire: redis.NewScript(`
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] or redis.call('LLEN', KEYS[3]) > 0 then
  return 0
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return redis.call('DEL', KEYS[1])
`),
		acquireLease:   redis.NewScript(acquireLeaseLua),
		awaitLease:     redis.NewScript(awaitLeaseLua),
		releaseLease:   redis.NewScript(releaseLeaseLua),
		dropInbox:      redis.NewScript(dropInboxLua),
		forgetConsumer: redis.NewScript(forgetConsumerLua),
		// KEYS: the event stream. ARGV: its cap, the event data.
		add: redis.NewScript(roomLua + `
if not room(KEYS[1], tonumber(ARGV[1])) then
  return redis.error_reply(fullReply)
end
return redis.call('XADD', KEYS[1], '*', 'data', ARGV[2])
`),
		// KEYS: the train, its staged replacement (a hash with the new v
		// and d), its history (kept for good again when the train is
		// made anew after it was retired). ARGV: expected version. Returns {1, old} on success, {0,
		// stored} on a version mismatch. The JSON never enters Lua: moving a
		// large argument into the interpreter costs far more than the
		// compare-and-set itself, so the caller stages the new record and the
		// script swaps it in by rename.
		save: redis.NewScript(`
local raw = redis.call('HGET', KEYS[1], 'v')
local have = tonumber(raw or '0')
if not have then
  redis.call('DEL', KEYS[2])
  return redis.error_reply('ERR version field of ' .. KEYS[1] .. ' is not a number: ' .. raw)
end
if have ~= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[2])
  return {0, have}
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('ERR staged record ' .. KEYS[2] .. ' is missing')
end
redis.call('RENAME', KEYS[2], KEYS[1])
redis.call('PERSIST', KEYS[1])
if have == 0 then
  redis.call('PERSIST', KEYS[3])
end
return {1, have}
`),
		// ARGV: owner, ttl in milliseconds. Returns 1 if the owner held it.
		renew: redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`),
		// ARGV: owner. Returns 1 if the owner held it.
		release: redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`),
		// KEYS: the delivery mark, the event stream. ARGV: mark ttl in
		// milliseconds, stream cap, event data. Returns the entry id, or
		// nil for a delivery marked already.
		// A script's writes before a failing command stay, so the event is
		// queued before the mark is set: a failed XADD leaves no mark.
		enqueue: redis.NewScript(roomLua + `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return false
end
if not room(KEYS[2], tonumber(ARGV[2])) then
  return redis.error_reply(fullReply)
end
local id = redis.call('XADD', KEYS[2], '*', 'data', ARGV[3])
redis.call('SET', KEYS[1], 1, 'PX', ARGV[1])
return id
`),
		// KEYS: the event stream, the dead-letter stream. ARGV: group,
		// entry id, data, reason, deliveries, time in ms, dead-letter cap.
		// Adds the dead letter and acknowledges the entry together.
		bury: redis.NewScript(`
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], '*',
  'data', ARGV[3], 'reason', ARGV[4], 'deliveries', ARGV[5], 'at', ARGV[6], 'entry', ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return id
`),
		// KEYS: the dead-letter stream, the event stream. ARGV: dead-letter
		// id, event stream cap. Returns the new entry id, or nil when no
		// such dead letter exists.
		unbury: redis.NewScript(roomLua + `
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then
  return false
end
local data
local f = e[1][2]
for i = 1, #f, 2 do
  if f[i] == 'data' then data = f[i + 1] end
end
if not data then
  return redis.error_reply('ERR dead letter ' .. ARGV[1] .. ' has no data')
end
if not room(KEYS[2], tonumber(ARGV[2])) then
  return redis.error_reply(fullReply)
end
local id = redis.call('XADD', KEYS[2], '*', 'data', data)
redis.call('XDEL', KEYS[1], ARGV[1])
return id
`),
	}
}
