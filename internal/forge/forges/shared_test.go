package forges

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/retry"
)

const (
	project = "acme/widgets"
	token   = "bot-token-5f2c0123"
)

// fakeConfig enables both forges on one fake forge, for project.
func fakeConfig(t *testing.T, f *fakeforge.Forge, token string, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(fmt.Appendf(nil, `
gitlab:
  url: %[1]s
  token: %[2]s
  webhook_secret: 0123456789abcdef0123
  %[3]s
github:
  url: %[1]s
  token: %[2]s
  webhook_secret: 0123456789abcdef0123
projects:
  - {forge: gitlab, path: %[4]s}
  - {forge: github, path: %[4]s}
`, f.URL(), token, extra, project), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newFake(t *testing.T) (*fakeforge.Forge, fakeforge.MR) {
	t.Helper()
	f, err := fakeforge.New(fakeforge.Options{Dir: t.TempDir(), Tokens: map[string]string{token: "trainbot", token + "-other": "trainbot"}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.CreateProject(ctx, project, nil); err != nil {
		t.Fatal(err)
	}
	mr, err := f.CreateMR(ctx, project, fakeforge.MRSpec{Source: "feature", Title: "Add a", Author: "alice", Commits: []fakeforge.Commit{{Files: map[string]string{"a": "a"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return f, mr
}

// codes records the status of each answer by forge, as the metrics
// transport does.
type codes struct {
	mu   sync.Mutex
	seen map[string][]int
}

func (c *codes) transport(name string, _ func(*http.Request) string) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			c.mu.Lock()
			c.seen[name] = append(c.seen[name], resp.StatusCode)
			c.mu.Unlock()
		}
		return resp, err
	})
}

func (c *codes) take(name string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.seen[name]
	c.seen[name] = nil
	return s
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The sweep's reads, repeated on an unchanged forge, are answered 304
// through the real client libraries, which still see the data; the
// metrics transport sees the 304s.
func TestRepeatedReadsAreConditional(t *testing.T) {
	f, mr := newFake(t)
	rec := &codes{seen: map[string][]int{}}
	all, err := Open(fakeConfig(t, f, token, ""), Options{Transport: rec.transport})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, fg := range all {
		name := fg.Profile.Name
		t.Run(name, func(t *testing.T) {
			read := func() string {
				t.Helper()
				m, err := fg.Client.MergeRequest(ctx, project, mr.IID)
				if err != nil {
					t.Fatal(err)
				}
				head, err := fg.Client.BranchHead(ctx, project, "main")
				if err != nil {
					t.Fatal(err)
				}
				return fmt.Sprintf("%+v %s", m, head)
			}
			first := read()
			if got := rec.take(name); len(got) == 0 || got[0] != http.StatusOK {
				t.Fatalf("first reads answered %v", got)
			}
			if again := read(); again != first {
				t.Fatalf("second reads saw %s, want %s", again, first)
			}
			if got := rec.take(name); len(got) == 0 || slices.ContainsFunc(got, func(c int) bool { return c != http.StatusNotModified }) {
				t.Fatalf("second reads answered %v, want 304s", got)
			}
			if _, err := f.PushToMR(ctx, project, mr.IID, fakeforge.Commit{Files: map[string]string{name: name}}); err != nil {
				t.Fatal(err)
			}
			if changed := read(); changed == first {
				t.Fatalf("a push went unseen: %s", changed)
			}
		})
	}
}

// Replicas with one token share its budget in Redis; another token has
// its own.
func TestReplicasShareBudgetsInRedis(t *testing.T) {
	f, mr := newFake(t)
	rdb := redistest.Mini(t)
	opts := Options{Redis: rdb, Prefix: "ty"}
	gitlabOf := func(tok string) Client {
		t.Helper()
		all, err := Open(fakeConfig(t, f, tok, "requests_per_minute: 2"), opts)
		if err != nil {
			t.Fatal(err)
		}
		return all[0].Client
	}
	a, b, other := gitlabOf(token), gitlabOf(token), gitlabOf(token+"-other")
	ctx := context.Background()
	for _, c := range []Client{a, b, other, other} {
		if _, err := c.MergeRequest(ctx, project, mr.IID); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := b.MergeRequest(short, project, mr.IID); !errors.Is(err, retry.ErrGaveUp) || !strings.Contains(err.Error(), "request budget") {
		t.Fatalf("third request on one token: %v", err)
	}

	// GitHub's write budget is kept by token too, under the prefix, and
	// its key does not show the token.
	all, err := Open(fakeConfig(t, f, token, ""), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := all[1].Client.Comment(ctx, project, mr.IID, "hello"); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "ty:ratelimit:github:*").Result()
	if err != nil || len(keys) != 1 || strings.Contains(keys[0], token) {
		t.Fatalf("budget keys %q, %v", keys, err)
	}
	if n, err := rdb.ZCard(ctx, keys[0]).Result(); err != nil || n != 1 {
		t.Fatalf("%d writes in the budget, %v", n, err)
	}
}
