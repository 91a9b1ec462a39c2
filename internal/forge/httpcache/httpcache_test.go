package httpcache

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// server answers every path with its body and an ETag (weak, as GitLab
// writes them) unless noETag, and 304 to an If-None-Match naming it. It
// records the If-None-Match of each request.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string]string
	noETag bool
	asked  []string // If-None-Match of each request, in order
}

func newServer(t *testing.T) *server {
	s := &server{bodies: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.asked = append(s.asked, r.Header.Get("If-None-Match"))
		body := s.bodies[r.URL.Path] + " for " + r.Header.Get("Authorization")
		etag := fmt.Sprintf(`W/"%x"`, body)
		w.Header().Set("X-RateLimit-Remaining", fmt.Sprint(100-len(s.asked)))
		if !s.noETag {
			w.Header().Set("ETag", etag)
		}
		if r.Method == http.MethodGet && !s.noETag && r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) set(path, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies[path] = body
}

func (s *server) lastAsked() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[len(s.asked)-1]
}

// codes records the status of every answer that came from the server,
// as the metrics transport below the cache does.
type codes struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []int
}

func (c *codes) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil {
		c.mu.Lock()
		c.seen = append(c.seen, resp.StatusCode)
		c.mu.Unlock()
	}
	return resp, err
}

func (c *codes) last() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[len(c.seen)-1]
}

func newClient(opts Options) (*http.Client, *codes, *Transport) {
	below := &codes{next: http.DefaultTransport}
	tr := New(below, opts)
	return &http.Client{Transport: tr}, below, tr
}

type answer struct {
	status int
	body   string
	header http.Header
}

func send(t *testing.T, c *http.Client, method, url, auth string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, string(body), resp.Header}
}

func TestNotModifiedAnswersTheKeptBody(t *testing.T) {
	s := newServer(t)
	s.set("/mr/1", `{"sha":"a1"}`)
	c, below, _ := newClient(Options{})
	first := send(t, c, http.MethodGet, s.URL+"/mr/1", "Bearer one")
	etag := first.header.Get("ETag")
	if first.status != 200 || !strings.HasPrefix(etag, `W/"`) || s.lastAsked() != "" {
		t.Fatalf("first GET: %+v, sent If-None-Match %q", first, s.lastAsked())
	}
	second := send(t, c, http.MethodGet, s.URL+"/mr/1", "Bearer one")
	if s.lastAsked() != etag {
		t.Fatalf("second GET sent If-None-Match %q, want the weak ETag %s verbatim", s.lastAsked(), etag)
	}
	if below.last() != http.StatusNotModified {
		t.Fatalf("the transport below saw %d, want the real 304", below.last())
	}
	if second.status != 200 || second.body != first.body {
		t.Fatalf("second GET: %d %q, want 200 %q", second.status, second.body, first.body)
	}
	// The 304's headers are fresher; the body's are the kept answer's.
	if got := second.header.Get("X-RateLimit-Remaining"); got != "98" {
		t.Errorf("X-RateLimit-Remaining %q, want the 304's", got)
	}
	if got := second.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type %q, want the kept answer's", got)
	}

	// A changed resource is answered in full, and kept anew.
	s.set("/mr/1", `{"sha":"b2"}`)
	third := send(t, c, http.MethodGet, s.URL+"/mr/1", "Bearer one")
	if third.status != 200 || !strings.Contains(third.body, "b2") || below.last() != 200 {
		t.Fatalf("after a change: %+v", third)
	}
	if fourth := send(t, c, http.MethodGet, s.URL+"/mr/1", "Bearer one"); fourth.body != third.body || below.last() != 304 {
		t.Fatalf("after a change, again: %+v, below %d", fourth, below.last())
	}
}

func TestOnlyPlainGETsWithAnETagAreKept(t *testing.T) {
	s := newServer(t)
	s.set("/x", "x")
	c, below, tr := newClient(Options{})
	send(t, c, http.MethodGet, s.URL+"/x", "Bearer one")

	// Another identity is another answer.
	send(t, c, http.MethodGet, s.URL+"/x", "Bearer two")
	if s.lastAsked() != "" {
		t.Errorf("a request with another token sent If-None-Match %q", s.lastAsked())
	}
	// Writes are not conditional.
	send(t, c, http.MethodPost, s.URL+"/x", "Bearer one")
	if s.lastAsked() != "" {
		t.Errorf("a POST sent If-None-Match %q", s.lastAsked())
	}
	// A caller's own conditional request is its own: its 304 reaches it.
	own := send(t, c, http.MethodGet, s.URL+"/x", "Bearer one", "If-None-Match", `W/"mine"`)
	if s.lastAsked() != `W/"mine"` || own.status != 200 {
		t.Errorf("own If-None-Match: sent %q, got %d", s.lastAsked(), own.status)
	}
	if etag := own.header.Get("ETag"); send(t, c, http.MethodGet, s.URL+"/x", "Bearer one", "If-None-Match", etag).status != 304 {
		t.Errorf("a caller's own matching If-None-Match was not answered 304")
	}

	// An answer without an ETag supersedes the kept one, and nothing is
	// kept after it.
	s.mu.Lock()
	s.noETag = true
	s.mu.Unlock()
	if got := send(t, c, http.MethodGet, s.URL+"/x", "Bearer one"); got.status != 200 || s.lastAsked() == "" {
		t.Fatalf("first request without an ETag: %+v, sent If-None-Match %q", got, s.lastAsked())
	}
	for range 2 {
		if got := send(t, c, http.MethodGet, s.URL+"/x", "Bearer one"); got.status != 200 || got.body != "x for Bearer one" {
			t.Fatalf("without an ETag: %+v", got)
		}
		if s.lastAsked() != "" || below.last() != 200 {
			t.Fatalf("sent If-None-Match %q without an ETag", s.lastAsked())
		}
	}
	if n := tr.lru.Len(); n != 1 {
		t.Errorf("%d answers kept, want Bearer two's alone", n)
	}
}

func TestKeptAnswersAreBounded(t *testing.T) {
	s := newServer(t)
	c, _, tr := newClient(Options{MaxEntries: 2, MaxBody: 40, MaxBytes: 60})
	get := func(path string) {
		t.Helper()
		send(t, c, http.MethodGet, s.URL+path, "Bearer one")
	}
	for _, p := range []string{"/a", "/b", "/c"} {
		s.set(p, "short")
	}
	get("/a")
	get("/b")
	get("/a") // /a is now the most recently used
	get("/c") // /b goes
	if get("/b"); s.lastAsked() != "" {
		t.Errorf("the least recently used answer was kept")
	}
	if get("/c"); s.lastAsked() == "" {
		t.Errorf("a recent answer was not kept")
	}

	// A body over MaxBody reaches the caller whole and is not kept.
	long := strings.Repeat("y", 100)
	s.set("/long", long)
	if got := send(t, c, http.MethodGet, s.URL+"/long", "Bearer one"); got.body != long+" for Bearer one" {
		t.Fatalf("long body: %d bytes", len(got.body))
	}
	if get("/long"); s.lastAsked() != "" {
		t.Errorf("a body over MaxBody was kept")
	}

	// MaxBytes bounds the bodies together: two of 35 bytes do not fit.
	s.set("/m1", strings.Repeat("m", 20))
	s.set("/m2", strings.Repeat("n", 20))
	get("/m1")
	get("/m2")
	if tr.lru.Len() != 1 || tr.bytes > 60 {
		t.Errorf("%d answers of %d bytes kept, want 1 within 60", tr.lru.Len(), tr.bytes)
	}
}

// A body that fails half way fails the caller as it would have without
// the cache, and is not kept.
func TestABrokenBodyIsPassedOnUnkept(t *testing.T) {
	broken := errors.New("connection reset")
	var sent []string
	next := roundTripper(func(r *http.Request) (*http.Response, error) {
		sent = append(sent, r.Header.Get("If-None-Match"))
		return &http.Response{StatusCode: 200, Header: http.Header{"Etag": {`"e"`}}, Request: r,
			Body: io.NopCloser(io.MultiReader(strings.NewReader("half"), failing{broken}))}, nil
	})
	c := &http.Client{Transport: New(next, Options{})}
	for range 2 {
		resp, err := c.Get("http://forge.example/x")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "half" || !errors.Is(err, broken) {
			t.Fatalf("read %q, %v", body, err)
		}
	}
	if sent[1] != "" {
		t.Errorf("a broken answer was kept: sent If-None-Match %q", sent[1])
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
