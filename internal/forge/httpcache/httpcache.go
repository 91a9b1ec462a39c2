// Package httpcache makes a forge client's repeated GETs conditional: a
// transport remembers the last 200 answer to each GET that carried an
// ETag, sends that ETag as If-None-Match the next time, and answers a
// 304 Not Modified with the remembered body, as a 200, so the client
// library above it never sees the difference.
//
// The sweep reads the same merge requests, pipelines and branch heads
// every interval, and most have not changed. GitHub does not count a 304
// against the primary rate limit, and both forges answer one cheaper
// than the resource itself.
//
// The transport goes above the metrics transport, so the metrics count
// the 304s the forge really sent.
package httpcache

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Defaults applied by New.
const (
	DefaultMaxEntries = 2048
	DefaultMaxBody    = 1 << 20
	DefaultMaxBytes   = 32 << 20
)

// Options bound what a Transport keeps.
type Options struct {
	// MaxEntries bounds the answers kept; the least recently used goes
	// first. DefaultMaxEntries if zero.
	MaxEntries int
	// MaxBody is the largest body kept; a larger answer passes through
	// unkept. DefaultMaxBody if zero.
	MaxBody int64
	// MaxBytes bounds the bodies kept, together. DefaultMaxBytes if zero.
	MaxBytes int64
}

// Transport is an http.RoundTripper that keeps answers to GETs and
// revalidates them. It is safe for concurrent use.
type Transport struct {
	next http.RoundTripper
	opts Options

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*list.Element
	lru     *list.List // of *entry, most recently used first
	bytes   int64
}

// entry is one kept answer.
type entry struct {
	key    [sha256.Size]byte
	etag   string
	header http.Header
	body   []byte
}

// New returns a transport that keeps answers of next (nil:
// http.DefaultTransport).
func New(next http.RoundTripper, opts Options) *Transport {
	if next == nil {
		next = http.DefaultTransport
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	return &Transport{next: next, opts: opts, entries: map[[sha256.Size]byte]*list.Element{}, lru: list.New()}
}

// RoundTrip sends req, conditionally when an answer to it is kept.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !cacheable(req) {
		return t.next.RoundTrip(req)
	}
	key := keyOf(req)
	kept, ok := t.get(key)
	sent := req
	if ok {
		// A RoundTripper must not change the request it was given.
		sent = req.Clone(req.Context())
		sent.Header.Set("If-None-Match", kept.etag)
	}
	resp, err := t.next.RoundTrip(sent)
	if err != nil {
		return nil, err
	}
	switch {
	case ok && resp.StatusCode == http.StatusNotModified:
		return kept.answer(req, resp), nil
	case resp.StatusCode == http.StatusOK:
		return t.keep(key, resp), nil
	}
	return resp, nil
}

// cacheable: a GET, unless the caller makes its own conditional or
// partial request; the transport then stays out of it.
func cacheable(req *http.Request) bool {
	if req.Method != http.MethodGet || req.URL == nil {
		return false
	}
	for _, h := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"} {
		if req.Header.Get(h) != "" {
			return false
		}
	}
	return true
}

// keyOf names an answer by its URL and the request headers it may
// differ by: who asks (GitHub's Authorization, GitLab's tokens) and in
// what form (go-github asks one URL for a commit or for its SHA alone).
// Hashed, the map holds no token.
func keyOf(req *http.Request) [sha256.Size]byte {
	var b strings.Builder
	b.WriteString(req.URL.String())
	for _, h := range []string{"Authorization", "Private-Token", "Job-Token", "Accept", "X-Github-Api-Version"} {
		for _, v := range req.Header.Values(h) {
			b.WriteString("\n" + h + ": " + v)
		}
	}
	return sha256.Sum256([]byte(b.String()))
}

// keep remembers a 200 answer that has an ETag and a body small enough,
// and returns it with its body still to read. An answer without an ETag
// forgets any kept for its key, which it supersedes.
func (t *Transport) keep(key [sha256.Size]byte, resp *http.Response) *http.Response {
	etag := resp.Header.Get("ETag")
	if etag == "" || strings.Contains(strings.ToLower(resp.Header.Get("Cache-Control")), "no-store") {
		t.drop(key)
		return resp
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, t.opts.MaxBody+1))
	if err != nil || int64(len(body)) > t.opts.MaxBody {
		t.drop(key)
		rest := resp.Body
		if err != nil {
			// The caller reads what came and then the error, as it
			// would have without this transport.
			rest = io.NopCloser(failing{err})
		}
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), rest), resp.Body}
		return resp
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	t.put(&entry{key: key, etag: etag, header: resp.Header.Clone(), body: body})
	return resp
}

// answer is the kept answer as a 200 to req, with the headers of the 304
// that revalidated it (rate limits, dates) over its own.
func (e *entry) answer(req *http.Request, notModified *http.Response) *http.Response {
	// Read the 304's body, if any, so its connection can be reused.
	io.Copy(io.Discard, io.LimitReader(notModified.Body, 4<<10))
	notModified.Body.Close()
	header := e.header.Clone()
	for name, values := range notModified.Header {
		if !describesBody(name) {
			header[name] = values
		}
	}
	header.Set("Content-Length", strconv.Itoa(len(e.body)))
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: notModified.Proto, ProtoMajor: notModified.ProtoMajor, ProtoMinor: notModified.ProtoMinor,
		Header: header, Body: io.NopCloser(bytes.NewReader(e.body)), ContentLength: int64(len(e.body)),
		Request: req, TLS: notModified.TLS,
	}
}

// describesBody: a 304, which has no body, must not replace these
// headers of the kept answer.
func describesBody(canonical string) bool {
	switch canonical {
	case "Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Transfer-Encoding":
		return true
	}
	return false
}

func (t *Transport) get(key [sha256.Size]byte) (*entry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.entries[key]
	if !ok {
		return nil, false
	}
	t.lru.MoveToFront(el)
	return el.Value.(*entry), true
}

func (t *Transport) put(e *entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.remove(e.key)
	t.entries[e.key] = t.lru.PushFront(e)
	t.bytes += int64(len(e.body))
	for t.lru.Len() > t.opts.MaxEntries || t.bytes > t.opts.MaxBytes {
		t.remove(t.lru.Back().Value.(*entry).key)
	}
}

func (t *Transport) drop(key [sha256.Size]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.remove(key)
}

// remove forgets key's answer; t.mu is held.
func (t *Transport) remove(key [sha256.Size]byte) {
	el, ok := t.entries[key]
	if !ok {
		return
	}
	t.lru.Remove(el)
	delete(t.entries, key)
	t.bytes -= int64(len(el.Value.(*entry).body))
}

type readCloser struct {
	io.Reader
	io.Closer
}

type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }
