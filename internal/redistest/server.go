package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	return startNode(tb, "", extra...).addr
}

// startNode runs a redis-server for tb, in a temporary directory of its own,
// and stops it (SIGKILL) when tb ends. When conf is not empty it is written
// to a config file given as the first argument: a sentinel needs one it can
// rewrite. In extra, $PORT stands for the port the server listens on and
// $FREEPORT for another port that was free when the server started.
func startNode(tb testing.TB, conf string, extra ...string) *server {
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
		s, err := launch(bin, dir, addr, conf, extra...)
		if err == nil {
			tb.Cleanup(s.stop)
			return s
		}
		errs = append(errs, err)
	}
	tb.Fatalf("redistest: start redis-server: %v", errors.Join(errs...))
	return nil
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
	addr   string // host:port
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been reaped
	out    *tailBuffer
	// admin talks to this very process: no retries, short timeouts, so
	// checks of a dying node fail fast.
	admin *redis.Client
}

func launch(bin, dir, addr, conf string, extra ...string) (*server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var args []string
	if conf != "" {
		file := filepath.Join(dir, "redis.conf")
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			return nil, fmt.Errorf("write config: %w", err)
		}
		args = append(args, file)
	}
	args = append(args,
		"--port", port, "--bind", host,
		"--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", "",
	)
	for _, a := range extra {
		a = strings.ReplaceAll(a, "$PORT", port)
		if strings.Contains(a, "$FREEPORT") {
			other, err := freeAddr()
			if err != nil {
				return nil, err
			}
			_, p, _ := net.SplitHostPort(other)
			a = strings.ReplaceAll(a, "$FREEPORT", p)
		}
		args = append(args, a)
	}
	out := &tailBuffer{max: 4096}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	s := &server{addr: addr, cmd: cmd, exited: make(chan struct{}), out: out, admin: redis.NewClient(&redis.Options{
		Addr: addr, MaxRetries: -1, PoolSize: 2,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second,
	})}
	go func() { // reaps the process; stop waits for it
		_ = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, fmt.Errorf("redis-server on %s: %w; output: %s", addr, err, out.String())
	}
	return s, nil
}

// waitReady polls until the server answers, and checks that the one
// answering is ours and not another server that already held the port.
func (s *server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
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
		info, err := s.admin.Info(ctx, "server").Result()
		if err != nil {
			continue
		}
		if pid := infoField(info, "process_id"); pid != strconv.Itoa(s.cmd.Process.Pid) {
			return fmt.Errorf("port answered by another server (process %s)", pid)
		}
		return nil
	}
}

// stop kills the server with SIGKILL, as a crash would, and waits until it
// is gone. Stopping a stopped server does nothing.
func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
	_ = s.admin.Close()
}

// running reports whether the process has not exited yet.
func (s *server) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// logTail is the end of the server's log, for error messages.
func (s *server) logTail() string {
	return fmt.Sprintf("log tail of redis-server %s:\n%s", s.addr, s.out.String())
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
