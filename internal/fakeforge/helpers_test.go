package fakeforge

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

const (
	botToken = "bot-token-5f2c"
	botName  = "trainbot"
	project1 = "acme/widgets"
)

func newForge(t *testing.T, mutate func(*Options)) *Forge {
	t.Helper()
	opts := Options{Dir: t.TempDir(), Tokens: map[string]string{botToken: botName}, Seed: 7}
	if mutate != nil {
		mutate(&opts)
	}
	f, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

func mustProject(t *testing.T, f *Forge, path string, files map[string]string) Project {
	t.Helper()
	p, err := f.CreateProject(context.Background(), path, files)
	if err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	return p
}

func mustMR(t *testing.T, f *Forge, spec MRSpec) MR {
	t.Helper()
	if spec.Author == "" {
		spec.Author = "alice"
	}
	m, err := f.CreateMR(context.Background(), project1, spec)
	if err != nil {
		t.Fatalf("CreateMR: %v", err)
	}
	return m
}

// client is the real GitLab client pointed at the forge, without retries
// so every call is one request.
func client(t testing.TB, f *Forge, token string) *gitlab.Client {
	t.Helper()
	c, err := gitlab.NewClient(token, gitlab.WithBaseURL(f.URL()+"/api/v4"), gitlab.WithoutRetries())
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// git runs the git CLI with an isolated configuration.
func git(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Tester", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=Tester", "GIT_COMMITTER_EMAIL=t@example.com",
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// authed prefixes git arguments with the token header.
func authed(token string, args ...string) []string {
	return append([]string{"-c", "http.extraHeader=" + GitAuthHeader(token)}, args...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hookReq is one webhook request the sink received.
type hookReq struct {
	Header http.Header
	Body   []byte
}

// sink is a webhook receiver that records every request.
type sink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []hookReq
}

func newSink(t *testing.T, f *Forge, secret string) *sink {
	t.Helper()
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, hookReq{Header: r.Header.Clone(), Body: body})
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.srv.Close)
	f.SetWebhook(Webhook{URL: s.srv.URL, Secret: secret})
	return s
}

// events flushes the forge's queue and returns the parsed events of one
// kind received so far, in order.
func (s *sink) events(t *testing.T, f *Forge, event string) ([]any, []hookReq) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.FlushWebhooks(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var evs []any
	var reqs []hookReq
	for _, r := range s.reqs {
		if r.Header.Get("X-Gitlab-Event") != event {
			continue
		}
		ev, err := gitlab.ParseWebhook(gitlab.EventType(event), r.Body)
		if err != nil {
			t.Fatalf("ParseWebhook(%s): %v\n%s", event, err, r.Body)
		}
		evs = append(evs, ev)
		reqs = append(reqs, r)
	}
	return evs, reqs
}
