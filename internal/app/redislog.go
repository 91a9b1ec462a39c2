package app

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// RedisLogger writes what go-redis logs (a connection pool that cannot
// dial, a Pub/Sub connection dropped, a cluster node gone) to a zap
// logger, as warnings: go-redis's own logger writes plain lines to
// stderr, which a log pipeline that reads JSON cannot parse. Install it
// with redis.SetLogger.
type RedisLogger struct{ log *zap.Logger }

// NewRedisLogger returns a go-redis logger writing to log.
func NewRedisLogger(log *zap.Logger) RedisLogger { return RedisLogger{log: log} }

// Printf logs one go-redis line.
func (l RedisLogger) Printf(_ context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	l.log.Warn(strings.TrimPrefix(msg, "redis: "))
}
