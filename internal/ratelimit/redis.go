package ratelimit

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeScript records a request in a budget if every window has room.
//
// KEYS[1]: the budget, a sorted set of one member per request scored by
// its time in microseconds. The time is the server's, so replicas whose
// clocks disagree still agree on the budget.
// ARGV[1]: a member unique to this request; ARGV[2], ARGV[3]: a window's
// N and its length in microseconds, and so on for every window.
// Returns 0 when the request was recorded, or else the microseconds until
// the first full window has room.
//
// Scores are formatted with %d: Lua would write a number of 16 digits as
// 1.7e+15, losing the microseconds.
const takeScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local longest = 0
for i = 2, #ARGV, 2 do
  longest = math.max(longest, tonumber(ARGV[i + 1]))
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - longest))
local wait = 0
for i = 2, #ARGV, 2 do
  local n, per = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local since = string.format('(%d', now - per)
  local count = redis.call('ZCOUNT', KEYS[1], since, '+inf')
  if count >= n then
    local nth = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf', 'WITHSCORES', 'LIMIT', count - n, 1)
    wait = math.max(wait, tonumber(nth[2]) + per - now)
  end
end
if wait > 0 then
  return math.ceil(wait)
end
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(longest / 1000) + 1)
return 0
`

// Redis is a budget in Redis, shared by every process that names the
// same key. It is safe for concurrent use.
type Redis struct {
	rdb    redis.UniversalClient
	key    string
	script *redis.Script
	// args are the windows as the script reads them.
	args []any
}

// NewRedis returns a budget of windows kept at key. Every user of a key
// should give it the same windows; each enforces its own on the requests
// of all. The one key a call touches makes it safe on Redis Cluster.
func NewRedis(rdb redis.UniversalClient, key string, windows ...Window) *Redis {
	ws, _ := bounding(windows)
	r := &Redis{rdb: rdb, key: key, script: redis.NewScript(takeScript)}
	for _, w := range ws {
		r.args = append(r.args, w.N, w.Per.Microseconds())
	}
	return r
}

// InRedis is the Store of budgets at key.
func InRedis(rdb redis.UniversalClient, key string) Store {
	return func(windows ...Window) Limiter { return NewRedis(rdb, key, windows...) }
}

// Reserve takes room for one request, waiting for it while ctx allows.
// A failure to reach Redis fails it: the budget cannot be known.
func (r *Redis) Reserve(ctx context.Context) error {
	if len(r.args) == 0 {
		return nil
	}
	for {
		wait, err := r.take(ctx)
		if err != nil {
			return err
		}
		if wait <= 0 {
			return nil
		}
		if err := sleepUntil(ctx, time.Now().Add(wait)); err != nil {
			return err
		}
	}
}

// take records a request if there is room, or says how long until there
// may be.
func (r *Redis) take(ctx context.Context) (time.Duration, error) {
	// Two requests in one microsecond, from two replicas, are two
	// members.
	member := strconv.FormatInt(time.Now().UnixMicro(), 10) + "-" + rand.Text()[:10]
	wait, err := r.script.Run(ctx, r.rdb, []string{r.key}, append([]any{member}, r.args...)...).Int64()
	if err != nil {
		if ctx.Err() != nil {
			return 0, &Exhausted{Free: time.Now(), Err: ctx.Err()}
		}
		return 0, fmt.Errorf("take room in rate limit %s: %w", r.key, err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}
