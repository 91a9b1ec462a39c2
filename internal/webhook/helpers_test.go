package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
)

const (
	glSecret = "gl-token-7f3a9c"
	ghSecret = "gh-hmac-secret-41d8"
	group    = "workers"
)

// rig is a Handler on a real Redis store behind a real HTTP server.
type rig struct {
	t       *testing.T
	rdb     redis.UniversalClient
	prefix  string
	store   *store.Store
	counts  *counts
	handler *Handler
	srv     *httptest.Server
}

type rigOption func(*Options, *rig)

// withQueue wraps the rig's store in another queue.
func withQueue(wrap func(*rig) Queue) rigOption {
	return func(o *Options, r *rig) { o.Queue = wrap(r) }
}

func withOptions(f func(*Options)) rigOption {
	return func(o *Options, _ *rig) { f(o) }
}

func newRig(t *testing.T, opts ...rigOption) *rig {
	t.Helper()
	r := &rig{t: t, rdb: redistest.Client(t), prefix: redistest.Prefix(t), counts: &counts{}}
	r.store = store.New(r.rdb, store.Options{Prefix: r.prefix})
	o := Options{
		GitLabSecret: glSecret,
		GitHubSecret: ghSecret,
		Queue:        r.store,
		Logger:       zaptest.NewLogger(t),
		Counter:      r.counts,
	}
	for _, f := range opts {
		f(&o, r)
	}
	h, err := New(o)
	if err != nil {
		t.Fatalf("new handler: %v", err)
	}
	r.handler = h
	r.srv = httptest.NewServer(h)
	t.Cleanup(r.srv.Close)
	if err := r.store.EnsureGroup(context.Background(), group); err != nil {
		t.Fatal(err)
	}
	return r
}

// delivery is one webhook request.
type delivery struct {
	method string
	path   string
	header http.Header
	body   []byte
	// chunked sends the body without a Content-Length.
	chunked bool
}

func newID(t testing.TB) string {
	t.Helper()
	return rand.Text()
}

// gitlabDelivery carries the headers GitLab sends (see testdata/SOURCES.md).
func gitlabDelivery(t testing.TB, kind string, body []byte) delivery {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitLab/17.6.0")
	h.Set("X-Gitlab-Event", kind)
	h.Set("X-Gitlab-Token", glSecret)
	h.Set("X-Gitlab-Event-UUID", newID(t))
	h.Set("X-Gitlab-Webhook-UUID", newID(t))
	h.Set("Idempotency-Key", newID(t))
	h.Set("X-Gitlab-Instance", "https://gitlab.example.com")
	return delivery{method: http.MethodPost, path: GitLabPath, header: h, body: body}
}

// githubDelivery carries the headers GitHub sends, signed with ghSecret.
func githubDelivery(t testing.TB, kind string, body []byte) delivery {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/044aadd")
	h.Set("X-GitHub-Event", kind)
	h.Set("X-GitHub-Delivery", newID(t))
	h.Set("X-GitHub-Hook-ID", "292430182")
	h.Set("X-Hub-Signature-256", sign(ghSecret, body))
	return delivery{method: http.MethodPost, path: GitHubPath, header: h, body: body}
}

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// reply is a decoded answer.
type reply struct {
	code   int
	status string
	reason string
	err    string
	raw    string
	// retryAfter is the Retry-After header, if any.
	retryAfter string
}

func (r *rig) send(d delivery) reply {
	r.t.Helper()
	return sendTo(r.t, r.srv.URL, d)
}

func sendTo(t *testing.T, base string, d delivery) reply {
	t.Helper()
	method := d.method
	if method == "" {
		method = http.MethodPost
	}
	var in io.Reader = bytes.NewReader(d.body)
	if d.chunked {
		in = io.MultiReader(in) // hides the length from the client
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+d.path, in)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = d.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post %s: %v", d.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("answer content type %q, want application/json; body %s", ct, raw)
	}
	var body struct{ Status, Reason, Error string }
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("answer %q is not JSON: %v", raw, err)
	}
	return reply{code: resp.StatusCode, status: body.Status, reason: body.Reason, err: body.Error, raw: string(raw),
		retryAfter: resp.Header.Get("Retry-After")}
}

// events reads every event queued since the last call.
func (r *rig) events() []event.Event {
	r.t.Helper()
	got, err := r.store.ReadEvents(context.Background(), group, "test", 1000, 0)
	if err != nil {
		r.t.Fatalf("read events: %v", err)
	}
	out := make([]event.Event, len(got))
	for i, e := range got {
		if out[i], err = event.Unmarshal(e.Data); err != nil {
			r.t.Fatalf("stream entry %s: %v", e.ID, err)
		}
	}
	return out
}

// expectQueued asserts that d is queued as exactly want.
func (r *rig) expectQueued(d delivery, want event.Event) {
	r.t.Helper()
	if got := r.send(d); got.code != http.StatusAccepted || got.status != "queued" {
		r.t.Fatalf("answer %d %s, want 202 queued", got.code, got.raw)
	}
	evs := r.events()
	if len(evs) != 1 {
		r.t.Fatalf("stream holds %d events, want 1: %+v", len(evs), evs)
	}
	if evs[0] != want {
		r.t.Fatalf("queued event\n%+v\nwant\n%+v", evs[0], want)
	}
}

// expectNothingQueued asserts that the stream holds no new event.
func (r *rig) expectNothingQueued() {
	r.t.Helper()
	if evs := r.events(); len(evs) != 0 {
		r.t.Fatalf("stream holds %d events, want none: %+v", len(evs), evs)
	}
}

func expectAnswer(t *testing.T, got reply, code int, field, want string) {
	t.Helper()
	var have string
	switch field {
	case "status":
		have = got.status
	case "reason":
		have = got.reason
	case "error":
		have = got.err
	}
	if got.code != code || have != want {
		t.Fatalf("answer %d %s; want %d with %s %q", got.code, got.raw, code, field, want)
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edited returns a fixture decoded, changed by edit, and encoded again.
func edited(t testing.TB, name string, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fixture(t, name), &m); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// obj returns the object at path in m, failing the test if it is missing.
func obj(t testing.TB, m map[string]any, path ...string) map[string]any {
	t.Helper()
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			t.Fatalf("fixture has no object %s", strings.Join(path, "."))
		}
		m = next
	}
	return m
}

// counts records Counter calls.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) Count(forge, event, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[forge+"/"+event+"/"+outcome]++
}

func (c *counts) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}
