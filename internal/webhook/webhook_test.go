package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/store"
)

// failQueue fails every call.
type failQueue struct{}

func (failQueue) EnqueueDelivery(context.Context, string, time.Duration, []byte) (bool, error) {
	return false, errors.New("queue down")
}

func (failQueue) MarkCommandQueued(context.Context, string, time.Duration) error {
	return errors.New("queue down")
}

func TestNewRefusesMissingSecrets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"both secrets", Options{GitLabSecret: "a", GitHubSecret: "b"}, true},
		{"no GitLab secret", Options{GitHubSecret: "b"}, false},
		{"no GitHub secret", Options{GitLabSecret: "a"}, false},
		{"GitLab disabled", Options{GitHubSecret: "b", DisableGitLab: true}, true},
		{"GitHub disabled", Options{GitLabSecret: "a", DisableGitHub: true}, true},
		{"GitHub project secrets only", Options{GitLabSecret: "a", GitHubProjects: map[string]string{"o/r": "s"}}, true},
		{"an empty project secret is none", Options{GitLabSecret: "a", GitHubProjects: map[string]string{"o/r": ""}}, false},
	}
	for _, c := range cases {
		c.opts.Queue = failQueue{}
		_, err := New(c.opts)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrNoSecret)) {
			t.Errorf("%s: New error %v, want ok=%v or ErrNoSecret", c.name, err, c.ok)
		}
	}
	if _, err := New(Options{GitLabSecret: "a", GitHubSecret: "b"}); err == nil {
		t.Error("New without a queue: no error")
	}
	if _, err := New(Options{GitLabSecret: "a", GitHubSecret: "b", Queue: failQueue{}, MaxBody: -1}); err == nil {
		t.Error("New with a negative body limit: no error")
	}
	h, err := New(Options{GitLabSecret: "a", GitHubSecret: "b", Queue: failQueue{}})
	if err != nil {
		t.Fatal(err)
	}
	if h.maxBody != 5<<20 || h.dedupTTL != 24*time.Hour {
		t.Errorf("defaults: max body %d, dedup ttl %s; want 5 MiB, 24h", h.maxBody, h.dedupTTL)
	}
}

func TestDisabledEndpointAndUnknownPath(t *testing.T) {
	t.Parallel()
	r := newRig(t, withOptions(func(o *Options) { o.GitLabSecret, o.DisableGitLab = "", true }))
	expectAnswer(t, r.send(gitlabDelivery(t, "Note Hook", fixture(t, "gitlab/note_hook_merge_request.json"))),
		http.StatusNotFound, "error", "gitlab webhooks are disabled")
	expectAnswer(t, r.send(delivery{path: "/webhooks/bitbucket", header: http.Header{}}),
		http.StatusNotFound, "error", "no webhook endpoint at /webhooks/bitbucket")
	r.expectNothingQueued()
}

func TestGitLabRefusesBadTokens(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	body := fixture(t, "gitlab/note_hook_merge_request.json")
	cases := []struct{ name, token, want string }{
		{"missing", "", "missing X-Gitlab-Token"},
		{"wrong", "not-the-token", "invalid X-Gitlab-Token"},
		{"prefix of the secret", glSecret[:len(glSecret)-1], "invalid X-Gitlab-Token"},
		{"secret with a suffix", glSecret + "x", "invalid X-Gitlab-Token"},
	}
	for _, c := range cases {
		d := gitlabDelivery(t, "Note Hook", body)
		d.header.Del("X-Gitlab-Token")
		if c.token != "" {
			d.header.Set("X-Gitlab-Token", c.token)
		}
		got := r.send(d)
		expectAnswer(t, got, http.StatusUnauthorized, "error", c.want)
		if strings.Contains(got.raw, glSecret[:6]) || (c.token != "" && strings.Contains(got.raw, c.token)) {
			t.Errorf("%s: answer %s echoes a token", c.name, got.raw)
		}
	}
	r.expectNothingQueued()
	if got := r.counts.snapshot()["gitlab/unknown/unauthorized"]; got != len(cases) {
		t.Fatalf("counted %d unauthorized, want %d: %v", got, len(cases), r.counts.snapshot())
	}
}

func TestGitHubRefusesBadSignatures(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	body := fixture(t, "github/pull_request_opened.json")
	tampered := []byte(strings.Replace(string(body), `"number": 2`, `"number": 3`, 1))
	if string(tampered) == string(body) {
		t.Fatal("tampering changed nothing")
	}
	cases := []struct {
		name   string
		body   []byte
		header func(http.Header)
		want   string
	}{
		{"missing", body, func(h http.Header) { h.Del("X-Hub-Signature-256") }, "missing X-Hub-Signature-256"},
		{"tampered body", tampered, func(http.Header) {}, "invalid X-Hub-Signature-256"},
		{"another secret", body, func(h http.Header) { h.Set("X-Hub-Signature-256", sign("other", body)) }, "invalid X-Hub-Signature-256"},
		{"legacy sha1 only", body, func(h http.Header) {
			h.Del("X-Hub-Signature-256")
			h.Set("X-Hub-Signature", "sha1=7d38cdd689735b008b3c702edd92eea23791c5f6")
		}, "missing X-Hub-Signature-256"},
		{"not hex", body, func(h http.Header) { h.Set("X-Hub-Signature-256", "sha256=zz") }, "invalid X-Hub-Signature-256"},
	}
	for _, c := range cases {
		d := githubDelivery(t, "pull_request", body) // signed over the original body
		d.body = c.body
		c.header(d.header)
		expectAnswer(t, r.send(d), http.StatusUnauthorized, "error", c.want)
	}
	r.expectNothingQueued()
}

func TestTruncatedBody(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	note := fixture(t, "gitlab/note_hook_merge_request.json")
	expectAnswer(t, r.send(gitlabDelivery(t, "Note Hook", note[:len(note)/2])), http.StatusBadRequest, "error",
		"malformed Note Hook payload: unexpected end of JSON input")
	pr := fixture(t, "github/pull_request_opened.json")
	expectAnswer(t, r.send(githubDelivery(t, "pull_request", pr[:len(pr)/2])), http.StatusBadRequest, "error",
		"malformed pull_request payload: unexpected end of JSON input")
	r.expectNothingQueued()
}

// A verified body that holds no event is refused with what is wrong:
// JSON null, a JSON value that is not an object, and a form without the
// payload field (a JSON body sent as a form).
func TestBodyWithoutAnEvent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for _, body := range []string{"null", " null\n", "[]", `"push"`} {
		expectAnswer(t, r.send(githubDelivery(t, "pull_request", []byte(body))), http.StatusBadRequest, "error",
			"malformed pull_request payload: the payload is not a JSON object")
	}
	for _, kind := range []string{"Note Hook", "Merge Request Hook", "Pipeline Hook", "Push Hook"} {
		expectAnswer(t, r.send(gitlabDelivery(t, kind, []byte("null"))), http.StatusBadRequest, "error",
			"malformed "+kind+" payload: the payload is not a JSON object")
	}
	pr := fixture(t, "github/pull_request_opened.json")
	d := githubDelivery(t, "pull_request", pr)
	d.header.Set("Content-Type", "application/x-www-form-urlencoded")
	expectAnswer(t, r.send(d), http.StatusBadRequest, "error",
		"form body without a payload field (is the hook's content type application/json?)")
	r.expectNothingQueued()
}

func TestOversizeBody(t *testing.T) {
	t.Parallel()
	const limit = 4096
	r := newRig(t, withOptions(func(o *Options) { o.MaxBody = limit }))
	note := fixture(t, "gitlab/note_hook_merge_request.json")
	pr := fixture(t, "github/pull_request_opened.json")
	if len(note) <= limit || len(pr) <= limit {
		t.Fatalf("fixtures of %d and %d bytes fit the %d limit", len(note), len(pr), limit)
	}
	for _, d := range []delivery{gitlabDelivery(t, "Note Hook", note), githubDelivery(t, "pull_request", pr)} {
		expectAnswer(t, r.send(d), http.StatusRequestEntityTooLarge, "error", "body larger than 4096 bytes")
		d.chunked = true // no Content-Length: the limit is met while reading
		expectAnswer(t, r.send(d), http.StatusRequestEntityTooLarge, "error", "body larger than 4096 bytes")
	}
	r.expectNothingQueued()
	small := fixture(t, "gitlab/push_hook.json")
	if len(small) > limit {
		t.Fatalf("push fixture of %d bytes exceeds the limit", len(small))
	}
	d := gitlabDelivery(t, "Push Hook", small)
	d.chunked = true
	want := glPush()
	want.ID = d.header.Get("Idempotency-Key")
	r.expectQueued(d, want)
}

func TestReplayIsQueuedOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	gl := gitlabDelivery(t, "Note Hook", fixture(t, "gitlab/note_hook_merge_request.json"))
	gh := githubDelivery(t, "pull_request", fixture(t, "github/pull_request_opened.json"))
	for _, d := range []delivery{gl, gh} {
		expectAnswer(t, r.send(d), http.StatusAccepted, "status", "queued")
		d.header.Set("X-Gitlab-Webhook-UUID", newID(t)) // fresh on every attempt
		expectAnswer(t, r.send(d), http.StatusAccepted, "status", "duplicate")
	}
	evs := r.events()
	if len(evs) != 2 || evs[0].Forge != "gitlab" || evs[1].Forge != "github" {
		t.Fatalf("queued %+v, want one GitLab and one GitHub event", evs)
	}
	c := r.counts.snapshot()
	if c["gitlab/Note Hook/queued"] != 1 || c["gitlab/Note Hook/duplicate"] != 1 ||
		c["github/pull_request/queued"] != 1 || c["github/pull_request/duplicate"] != 1 {
		t.Fatalf("counts %v", c)
	}
}

// TestGitLabEventUUIDOnly: without Idempotency-Key the delivery is named by
// X-Gitlab-Event-UUID, which GitLab shares between the hooks one request
// fires, so hooks with other payloads are not taken for replays.
func TestGitLabEventUUIDOnly(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	send := func(kind, file, uuid string) reply {
		d := gitlabDelivery(t, kind, fixture(t, "gitlab/"+file))
		d.header.Del("Idempotency-Key")
		d.header.Set("X-Gitlab-Event-UUID", uuid)
		return r.send(d)
	}
	uuid := newID(t)
	expectAnswer(t, send("Push Hook", "push_hook.json", uuid), http.StatusAccepted, "status", "queued")
	expectAnswer(t, send("Merge Request Hook", "merge_request_hook_update.json", uuid), http.StatusAccepted, "status", "queued")
	expectAnswer(t, send("Push Hook", "push_hook.json", uuid), http.StatusAccepted, "status", "duplicate")
	evs := r.events()
	if len(evs) != 2 || evs[0].Kind != event.KindPush || evs[1].Kind != event.KindMR {
		t.Fatalf("queued %+v, want a push and an MR event", evs)
	}
	if !strings.HasPrefix(evs[0].ID, uuid+":") || evs[0].ID == evs[1].ID {
		t.Fatalf("ids %q and %q, want distinct ids starting with %s:", evs[0].ID, evs[1].ID, uuid)
	}
}

func TestMissingDeliveryID(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	gl := gitlabDelivery(t, "Note Hook", fixture(t, "gitlab/note_hook_merge_request.json"))
	gl.header.Del("Idempotency-Key")
	gl.header.Del("X-Gitlab-Event-UUID")
	expectAnswer(t, r.send(gl), http.StatusBadRequest, "error",
		"missing delivery id: no Idempotency-Key or X-Gitlab-Event-UUID header")
	gh := githubDelivery(t, "pull_request", fixture(t, "github/pull_request_opened.json"))
	gh.header.Del("X-GitHub-Delivery")
	expectAnswer(t, r.send(gh), http.StatusBadRequest, "error", "missing delivery id: no X-GitHub-Delivery header")
	r.expectNothingQueued()
}

// A delivery cannot take the id the catch-up gives a public comment,
// which would keep the catch-up from queueing that command.
func TestCatchUpDeliveryIDsAreRefused(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	gl := gitlabDelivery(t, "Note Hook", fixture(t, "gitlab/note_hook_merge_request.json"))
	gl.header.Set("Idempotency-Key", "catch-up:1244")
	expectAnswer(t, r.send(gl), http.StatusBadRequest, "error", `delivery id "catch-up:1244": ids starting with "catch-up:" are Trainyard's own`)
	gh := githubDelivery(t, "issue_comment", fixture(t, "github/issue_comment_created_on_pull_request.atlantis.json"))
	gh.header.Set("X-GitHub-Delivery", "catch-up:1244")
	expectAnswer(t, r.send(gh), http.StatusBadRequest, "error", `delivery id "catch-up:1244": ids starting with "catch-up:" are Trainyard's own`)
	r.expectNothingQueued()
}

func TestWrongMethod(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for _, d := range []delivery{
		gitlabDelivery(t, "Note Hook", nil),
		githubDelivery(t, "pull_request", nil),
	} {
		for _, m := range []string{http.MethodGet, http.MethodPut} {
			d.method = m
			expectAnswer(t, r.send(d), http.StatusMethodNotAllowed, "error", "method "+m+" not allowed, use POST")
		}
	}
	req, err := http.NewRequest(http.MethodGet, r.srv.URL+GitLabPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("Allow"); got != http.MethodPost {
		t.Fatalf("Allow %q, want POST", got)
	}
	r.expectNothingQueued()
}

// TestQueueFailureThenRetry breaks the event stream for real (a string
// where the stream should be, so XADD fails), then repairs it: the
// delivery must not have been marked seen, so the forge's retry is queued.
func TestQueueFailureThenRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t)
	stream := r.prefix + ":events"
	if err := r.rdb.Del(ctx, stream).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.rdb.Set(ctx, stream, "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	d := gitlabDelivery(t, "Note Hook", fixture(t, "gitlab/note_hook_merge_request.json"))
	expectAnswer(t, r.send(d), http.StatusServiceUnavailable, "error", "event queue unavailable, retry later")
	mark := r.prefix + ":delivery:{" + stream + "}:gitlab:" + d.header.Get("Idempotency-Key")
	if n, err := r.rdb.Exists(ctx, mark).Result(); err != nil || n != 0 {
		t.Fatalf("delivery mark %s: exists %d (%v) after the failure, want none", mark, n, err)
	}

	if err := r.rdb.Del(ctx, stream).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.store.EnsureGroup(ctx, group); err != nil {
		t.Fatal(err)
	}
	want := glNote(glRoot, "This MR needs work.")
	want.ID = d.header.Get("Idempotency-Key")
	r.expectQueued(d, want)
	expectAnswer(t, r.send(d), http.StatusAccepted, "status", "duplicate")
	if c := r.counts.snapshot(); c["gitlab/Note Hook/error"] != 1 || c["gitlab/Note Hook/queued"] != 1 {
		t.Fatalf("counts %v", c)
	}
}

// TestQueueFullThenDrained: a stream at its cap of events no consumer has
// handled refuses a delivery with 503 rather than dropping one it holds,
// marks nothing, and takes the forge's re-send once the events are handled.
func TestQueueFullThenDrained(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, withQueue(func(r *rig) Queue {
		r.store = store.New(r.rdb, store.Options{Prefix: r.prefix, EventsMaxLen: 1})
		return r.store
	}))
	first := gitlabDelivery(t, "Note Hook", fixture(t, "gitlab/note_hook_merge_request.json"))
	if got := r.send(first); got.code != http.StatusAccepted || got.status != "queued" {
		t.Fatalf("first delivery: %d %s, want 202 queued", got.code, got.raw)
	}
	second := githubDelivery(t, "pull_request", fixture(t, "github/pull_request_opened.json"))
	refused := r.send(second)
	expectAnswer(t, refused, http.StatusServiceUnavailable, "error", "event queue full, retry later")
	if refused.retryAfter != "30" {
		t.Fatalf("Retry-After %q on a full queue, want 30", refused.retryAfter)
	}
	held, err := r.store.ReadEvents(ctx, group, "test", 10, 0)
	if err != nil || len(held) != 1 {
		t.Fatalf("read: %v, %v; want the first delivery alone", held, err)
	}
	if ev, err := event.Unmarshal(held[0].Data); err != nil || ev.Forge != "gitlab" {
		t.Fatalf("held event %+v (%v), want the first delivery's", ev, err)
	}
	if err := r.store.Ack(ctx, group, held[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := r.send(second); got.code != http.StatusAccepted || got.status != "queued" {
		t.Fatalf("re-send after the drain: %d %s, want 202 queued", got.code, got.raw)
	}
	evs := r.events()
	if len(evs) != 1 || evs[0].Forge != "github" || evs[0].ID != second.header.Get("X-GitHub-Delivery") {
		t.Fatalf("stream holds %+v, want the re-sent delivery", evs)
	}
	if c := r.counts.snapshot(); c["github/pull_request/error"] != 1 || c["github/pull_request/queued"] != 1 {
		t.Fatalf("counts %v", c)
	}
}

// TestQueueUnreachable: no Redis at all answers 503 without naming it.
func TestQueueUnreachable(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	r := newRig(t, withQueue(func(*rig) Queue { return store.New(rdb, store.Options{}) }))
	got := r.send(githubDelivery(t, "pull_request", fixture(t, "github/pull_request_opened.json")))
	expectAnswer(t, got, http.StatusServiceUnavailable, "error", "event queue unavailable, retry later")
}

// TestUnusedEventTypesShareOneLabel: an authenticated sender naming a new
// event type in every delivery adds no metric series.
func TestUnusedEventTypesShareOneLabel(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for i := range 3 {
		kind := fmt.Sprintf("Made Up Hook %d", i)
		got := r.send(gitlabDelivery(t, kind, []byte(`{}`)))
		expectAnswer(t, got, http.StatusAccepted, "reason", "event type "+kind+" not used")
		expectAnswer(t, r.send(githubDelivery(t, fmt.Sprintf("made_up_%d", i), []byte(`{}`))), http.StatusAccepted, "status", "ignored")
	}
	long := strings.Repeat("x", 500)
	expectAnswer(t, r.send(gitlabDelivery(t, long, []byte(`{}`))), http.StatusAccepted, "reason", "event type "+long[:64]+" not used")
	want := map[string]int{"gitlab/other/ignored": 4, "github/other/ignored": 3}
	if got := r.counts.snapshot(); !reflect.DeepEqual(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	r.expectNothingQueued()
}

// slowBody yields a few bytes and then waits for stop, as a sender that
// claims a large body and trickles it would.
type slowBody struct {
	sent bool
	stop <-chan struct{}
}

func (b *slowBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, "{\"object_kind\""), nil
	}
	<-b.stop
	return 0, io.ErrUnexpectedEOF
}

// TestBodyBufferFollowsWhatArrives: a body's buffer grows with the bytes
// that came, not with the Content-Length the sender claims.
func TestBodyBufferFollowsWhatArrives(t *testing.T) {
	t.Parallel()
	h, err := New(Options{GitLabSecret: glSecret, GitHubSecret: ghSecret, Queue: failQueue{}})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	close(stop) // the trickle ends at once: the claim alone must not size the buffer
	req := httptest.NewRequest(http.MethodPost, GitLabPath, &slowBody{stop: stop})
	req.ContentLength = DefaultMaxBody
	buf := new(bytes.Buffer)
	h.readBody(httptest.NewRecorder(), req, buf)
	if c := buf.Cap(); c > 64<<10 {
		t.Fatalf("buffer of %d bytes for a body of 14 bytes that claimed %d", c, DefaultMaxBody)
	}
}
