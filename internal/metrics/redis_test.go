package metrics

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/redistest"
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
