package loadtest

import (
	"context"
	"maps"
	"sync"

	"github.com/redis/go-redis/v9"
)

// redisCounter is a go-redis hook that counts the commands a client sends,
// by name; a pipeline counts each of its commands, a script one EVALSHA.
type redisCounter struct {
	mu     sync.Mutex
	byName map[string]int64
}

func newRedisCounter() *redisCounter { return &redisCounter{byName: map[string]int64{}} }

func (c *redisCounter) add(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range cmds {
		c.byName[cmd.Name()]++
	}
}

// snapshot is the counts so far.
func (c *redisCounter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byName)
}

func (c *redisCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd)
		return next(ctx, cmd)
	}
}

func (c *redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.add(cmds...)
		return next(ctx, cmds)
	}
}

// Counts are commands counted by name.
type Counts map[string]int64

func (c Counts) Total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// sub is c minus an earlier snapshot.
func (c Counts) sub(o Counts) Counts {
	out := Counts{}
	for k, v := range c {
		if d := v - o[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
