package store

import "github.com/redis/go-redis/v9"

// Each script touches only KEYS[1], one key of one train, so it runs on
// Redis Cluster.
type scripts struct {
	save, renew, release *redis.Script
}

func newScripts() scripts {
	return scripts{
		// KEYS: the train, its staged replacement (a hash with the new v
		// and d). ARGV: expected version. Returns {1, old} on success, {0,
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
	}
}
