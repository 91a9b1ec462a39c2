package metrics

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisHook times the commands of the go-redis client it is added to.
type redisHook struct{ m *Metrics }

// RedisHook returns a go-redis hook that times every command; add it with
// client.AddHook. A pipeline is timed as one command named "pipeline", a
// MULTI/EXEC transaction as "tx_pipeline", the pipeline go-redis sends to
// set up a new connection as "connect". Command names come from the code
// that sends them, so the label values are a fixed set.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

func (redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(commandName(cmd), start, failed(err))
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		if err != nil && !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return failed(c.Err()) }) {
			// The pipeline's error is one of its commands' answers, and
			// none of them is a fault.
			err = nil
		}
		h.observe(pipelineName(cmds), start, failed(err))
		return err
	}
}

func (h redisHook) observe(command string, start time.Time, failed bool) {
	h.m.redisTook.WithLabelValues(command).Observe(time.Since(start).Seconds())
	// go-redis sends CLIENT SETINFO to every new connection and ignores its
	// refusal by servers older than 7.2; any setup failure that matters
	// fails the command that needed the connection, and is counted there.
	if failed && !setupCommand(command) {
		h.m.redisErrs.WithLabelValues(command).Inc()
	}
}

// failed reports whether err is a fault. redis.Nil answers a read of a
// missing key. NOSCRIPT answers an EVALSHA of a script the server has not
// cached (after its restart or failover, or a SCRIPT FLUSH): a Script's Run,
// and the store's save, then send the script itself with EVAL, which is
// counted on its own.
func failed(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !redis.HasErrorPrefix(err, "NOSCRIPT")
}

// commandName is the command's name in lower case (go-redis lowers it).
func commandName(cmd redis.Cmder) string {
	if n := cmd.Name(); n != "" {
		return n
	}
	return "unknown"
}

// pipelineName names a pipeline: "tx_pipeline" for MULTI/EXEC, "connect"
// for the commands go-redis sends to set up a new connection, "pipeline"
// otherwise.
func pipelineName(cmds []redis.Cmder) string {
	switch {
	case len(cmds) == 0:
		return "pipeline"
	case cmds[0].Name() == "multi":
		return "tx_pipeline"
	}
	for _, c := range cmds {
		if !setupCommand(c.Name()) {
			return "pipeline"
		}
	}
	return "connect"
}

// setupCommand reports whether go-redis sends command while it sets up a
// connection.
func setupCommand(command string) bool {
	switch command {
	case "hello", "auth", "client", "select", "readonly", "connect":
		return true
	}
	return false
}
