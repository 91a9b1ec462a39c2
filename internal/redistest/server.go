package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// startAttempts bounds retries when the free port we picked was taken
	// by someone else before redis-server could bind it.
	startAttempts = 5
	// readyTimeout bounds the wait for a started server to answer.
	readyTimeout = 10 * time.Second
)

// startServer runs a redis-server for tb, with extra arguments, and returns
// its host:port.
func startServer(tb testing.TB, extra ...string) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redistest: redis-server not in PATH: install it (apt-get install redis-server) or set %s to a running server", EnvURL)
	}
	dir := tb.TempDir()
	var errs []error
	for range startAttempts {
		addr, err := freeAddr()
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		s, err := launch(bin, dir, addr, extra...)
		if err == nil {
			tb.Cleanup(s.stop)
			return addr
		}
		errs = append(errs, err)
	}
	tb.Fatalf("redistest: start redis-server: %v", errors.Join(errs...))
	return ""
}

// freeAddr asks the kernel for a loopback port that is free right now. Someone
// may take it before redis-server binds it; startServer retries then.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

// server is one redis-server process; stop ends it and waits for it.
type server struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been reaped
	out    *tailBuffer
}

func launch(bin, dir, addr string, extra ...string) (*server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	out := &tailBuffer{max: 4096}
	args := []string{
		"--port", port, "--bind", host,
		"--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", "",
	}
	for _, a := range extra {
		args = append(args, strings.ReplaceAll(a, "$PORT", port))
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	s := &server{cmd: cmd, exited: make(chan struct{}), out: out}
	go func() { // reaps the process; stop waits for it
		_ = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(addr); err != nil {
		s.stop()
		return nil, fmt.Errorf("redis-server on %s: %w; output: %s", addr, err, out.String())
	}
	return s, nil
}

// waitReady polls until the server answers, and checks that the one
// answering is ours and not another server that already held the port.
func (s *server) waitReady(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{
		Addr: addr, MaxRetries: -1, PoolSize: 1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second,
	})
	defer func() { _ = c.Close() }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.exited:
			return errors.New("exited before answering")
		case <-ctx.Done():
			return fmt.Errorf("no answer to PING within %s", readyTimeout)
		case <-tick.C:
		}
		info, err := c.Info(ctx, "server").Result()
		if err != nil {
			continue
		}
		if pid := infoField(info, "process_id"); pid != strconv.Itoa(s.cmd.Process.Pid) {
			return fmt.Errorf("port answered by another server (process %s)", pid)
		}
		return nil
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

func infoField(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// tailBuffer keeps the last max bytes written, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
