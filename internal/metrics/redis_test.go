package metrics

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

func TestRedisHookTimesCommandsAndPipelines(t *testing.T) {
	m, reg := newMetrics(t)
	ctx := context.Background()
	c := redistest.Client(t)
	c.AddHook(m.RedisHook())
	key := redistest.Prefix(t) + ":k"

	if err := c.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	if err := c.Get(ctx, key+":missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("get missing = %v, want redis.Nil", err)
	}
	if err := c.Incr(ctx, key).Err(); err == nil {
		t.Fatal("incr of a string succeeded")
	}
	if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, key)
		p.Exists(ctx, key)
		return nil
	}); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, "w", 0)
		return nil
	}); err != nil {
		t.Fatalf("transaction: %v", err)
	}

	for _, want := range []struct {
		command string
		count   uint64
		errs    float64
	}{
		{"set", 1, 0},
		{"get", 1, 0}, // a missing key is an answer
		{"incr", 1, 1},
		{"pipeline", 1, 0},
		{"tx_pipeline", 1, 0},
	} {
		h := histogram(t, reg, "trainyard_redis_command_duration_seconds", map[string]string{"command": want.command})
		if h.GetSampleCount() != want.count || h.GetSampleSum() <= 0 {
			t.Errorf("%s: count %d sum %v, want %d and a positive sum", want.command, h.GetSampleCount(), h.GetSampleSum(), want.count)
		}
		if got := testutil.ToFloat64(m.redisErrs.WithLabelValues(want.command)); got != want.errs {
			t.Errorf("%s errors = %v, want %v", want.command, got, want.errs)
		}
	}
	// Commands inside pipelines are not timed on their own; connection
	// setup is timed apart from the commands that caused it.
	wantCommands := []string{"connect", "get", "hello", "incr", "pipeline", "set", "tx_pipeline"}
	if got := labelValues(t, reg, "trainyard_redis_command_duration_seconds", "command"); !slices.Equal(got, wantCommands) {
		t.Errorf("commands timed = %v, want %v", got, wantCommands)
	}
	if h := histogram(t, reg, "trainyard_redis_command_duration_seconds", map[string]string{"command": "hello"}); h.GetSampleCount() == 0 {
		t.Error("connection handshake not timed")
	}
	if n := testutil.CollectAndCount(m.redisErrs); n != 5 {
		t.Errorf("error series = %d, want only the 5 read above (setup refusals are not errors)", n)
	}

	if err := c.Get(ctx, key).Err(); err != nil {
		t.Fatalf("get: %v", err)
	}
	h := histogram(t, reg, "trainyard_redis_command_duration_seconds", map[string]string{"command": "get"})
	if h.GetSampleCount() != 2 {
		t.Fatalf("get count after a second get = %d, want 2", h.GetSampleCount())
	}
}

// A script the server has not cached answers EVALSHA with NOSCRIPT, and
// the client sends it with EVAL: the normal path after a Redis restart,
// failover or SCRIPT FLUSH, not a failure. Alone (Script.Run) or inside
// the store's save transaction, it counts no error; a script that fails
// does.
func TestRedisHookDoesNotCountTheNoScriptFallback(t *testing.T) {
	m, reg := newMetrics(t)
	ctx := context.Background()
	c := redistest.Client(t)
	c.AddHook(m.RedisHook())
	prefix := redistest.Prefix(t)

	script := redis.NewScript(`return redis.call('INCR', KEYS[1])`)
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := script.Run(ctx, c, []string{prefix + ":n"}).Int64(); err != nil || n != 1 {
		t.Fatalf("script = %d, %v", n, err)
	}
	st := store.New(c, store.Options{Prefix: prefix})
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Save(ctx, train.New(keyApp, train.Settings{})); err != nil {
		t.Fatalf("save after a flush: %v", err)
	}
	for _, command := range []string{"evalsha", "eval", "tx_pipeline"} {
		if h := histogram(t, reg, "trainyard_redis_command_duration_seconds", map[string]string{"command": command}); h.GetSampleCount() == 0 {
			t.Errorf("%s not timed: the fallback did not happen", command)
		}
	}
	if n := testutil.CollectAndCount(m.redisErrs); n != 0 {
		t.Fatalf("%d error series after the fallbacks, want none", n)
	}

	if err := c.Set(ctx, prefix+":s", "text", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Cached again by this EVAL, the script fails on EVALSHA next.
	if err := script.Run(ctx, c, []string{prefix + ":n"}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := script.Run(ctx, c, []string{prefix + ":s"}).Err(); err == nil {
		t.Fatal("INCR of a string in a script succeeded")
	}
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, prefix+":s")
		return nil
	}); err == nil {
		t.Fatal("INCR of a string in a transaction succeeded")
	}
	for command, want := range map[string]float64{"evalsha": 1, "tx_pipeline": 1, "eval": 0} {
		if got := testutil.ToFloat64(m.redisErrs.WithLabelValues(command)); got != want {
			t.Errorf("%s errors = %v, want %v", command, got, want)
		}
	}
}
