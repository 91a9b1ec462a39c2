package fakeforge

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"sync"

	"go.uber.org/zap"
)

// maxDeliveries bounds the delivery log a long demo keeps.
const maxDeliveries = 10000

// Webhook flavours: whose headers and payloads a delivery carries.
const (
	HookGitLab = "gitlab"
	HookGitHub = "github"
)

// Delivery is one webhook event as sent, or as lost.
type Delivery struct {
	ID int64
	// Forge is HookGitLab or HookGitHub.
	Forge string
	Event string // X-Gitlab-Event or X-GitHub-Event
	// IdempotencyKey and EventUUID stay the same when a delivery is sent
	// twice or replayed, as GitLab keeps them on a re-sent delivery; on
	// GitHub, IdempotencyKey is the X-GitHub-Delivery GUID, which a
	// redelivery keeps too.
	IdempotencyKey string
	EventUUID      string
	Body           []byte
	// Status is the HTTP status of the last attempt, 0 if none was made.
	Status   int
	Attempts int
	// Dropped: lost on purpose (Webhook.DropRate) or because the queue was
	// full.
	Dropped bool
	Err     string
}

type deliveryJob struct {
	d     *Delivery
	flush chan struct{}
}

// sender delivers webhooks in order from a bounded queue, on one goroutine.
type sender struct {
	f      *Forge
	queue  chan deliveryJob
	client *http.Client

	mu     sync.Mutex
	log    []*Delivery
	nextID int64
}

func newSender(f *Forge, size int) *sender {
	return &sender{f: f, queue: make(chan deliveryJob, size), client: &http.Client{}}
}

// send queues an event for delivery to the forge's webhook. Without a
// webhook URL nothing is sent, as a project without a webhook sends
// nothing.
func (s *sender) send(forge, event string, payload any) {
	f := s.f
	hook := f.hookFor(forge)
	if hook.URL == "" {
		return
	}
	body, err := json.Marshal(payload)
	if err != nil {
		f.log.Error("marshal webhook", zap.String("event", event), zap.Error(err))
		return
	}
	d := s.record(&Delivery{Forge: forge, Event: event, IdempotencyKey: newUUID(), EventUUID: newUUID(), Body: body})
	if f.dropNext(forge) {
		s.markDropped(d, "dropped by DropFirst")
		return
	}
	if f.chance(hook.DropRate) {
		s.markDropped(d, "dropped by DropRate")
		return
	}
	s.enqueue(d)
	if f.chance(hook.DuplicateRate) {
		s.enqueue(s.record(s.copyOf(d)))
	}
}

// replay sends delivery id again, keeping its idempotency key.
func (s *sender) replay(id int64) (int64, error) {
	s.mu.Lock()
	var orig *Delivery
	for _, d := range s.log {
		if d.ID == id {
			orig = d
		}
	}
	s.mu.Unlock()
	if orig == nil {
		return 0, fmt.Errorf("replay delivery %d: not found", id)
	}
	d := s.record(s.copyOf(orig))
	s.enqueue(d)
	return d.ID, nil
}

func (s *sender) copyOf(d *Delivery) *Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &Delivery{Forge: d.Forge, Event: d.Event, IdempotencyKey: d.IdempotencyKey, EventUUID: d.EventUUID, Body: d.Body}
}

func (s *sender) record(d *Delivery) *Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	d.ID = s.nextID
	s.log = append(s.log, d)
	if len(s.log) > maxDeliveries {
		s.log = s.log[len(s.log)-maxDeliveries:]
	}
	return d
}

func (s *sender) markDropped(d *Delivery, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.Dropped, d.Err = true, why
}

func (s *sender) enqueue(d *Delivery) {
	select {
	case s.queue <- deliveryJob{d: d}:
	default:
		s.markDropped(d, "queue full")
		s.f.log.Warn("webhook queue full, event dropped", zap.String("event", d.Event))
	}
}

// flush waits until every delivery queued before it was attempted.
func (s *sender) flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case s.queue <- deliveryJob{flush: done}:
	case <-ctx.Done():
		return fmt.Errorf("flush webhooks: %w", ctx.Err())
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush webhooks: %w", ctx.Err())
	}
}

func (s *sender) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.queue:
			if j.flush != nil {
				close(j.flush)
				continue
			}
			s.post(ctx, j.d)
		}
	}
}

func (s *sender) post(ctx context.Context, d *Delivery) {
	f := s.f
	hook := f.hookFor(d.Forge)
	ctx, cancel := context.WithTimeout(ctx, hook.Timeout)
	defer cancel()
	status, err := s.do(ctx, hook, d)
	s.mu.Lock()
	d.Attempts++
	d.Status = status
	if err != nil {
		d.Err = err.Error()
	}
	s.mu.Unlock()
	if err != nil {
		f.log.Warn("webhook delivery failed", zap.String("event", d.Event), zap.Error(err))
	}
}

func (s *sender) do(ctx context.Context, hook Webhook, d *Delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if d.Forge == HookGitHub {
		s.githubHeaders(req.Header, hook, d)
	} else {
		s.gitlabHeaders(req.Header, hook, d)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post %s: %w", d.Event, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("post %s: status %d", d.Event, resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// gitlabHeaders are the headers GitLab sends (testdata/SOURCES.md).
func (s *sender) gitlabHeaders(h http.Header, hook Webhook, d *Delivery) {
	h.Set("User-Agent", "GitLab/"+s.f.opts.Version)
	h.Set("X-Gitlab-Event", d.Event)
	h.Set("X-Gitlab-Event-UUID", d.EventUUID)
	h.Set("X-Gitlab-Webhook-UUID", newUUID())
	h.Set("Idempotency-Key", d.IdempotencyKey)
	h.Set("X-Gitlab-Instance", s.f.baseURL)
	if hook.Secret != "" {
		h.Set("X-Gitlab-Token", hook.Secret)
	}
}

// githubHeaders are the headers GitHub sends: the event, its GUID, and,
// with a secret, the HMACs of the exact body (SHA-256, and the legacy
// SHA-1 GitHub still sends beside it).
func (s *sender) githubHeaders(h http.Header, hook Webhook, d *Delivery) {
	h.Set("User-Agent", "GitHub-Hookshot/fakeforge")
	h.Set("X-GitHub-Event", d.Event)
	h.Set("X-GitHub-Delivery", d.IdempotencyKey)
	h.Set("X-GitHub-Hook-ID", "1")
	h.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
	if hook.Secret != "" {
		h.Set("X-Hub-Signature-256", "sha256="+hexMAC(sha256.New, hook.Secret, d.Body))
		h.Set("X-Hub-Signature", "sha1="+hexMAC(sha1.New, hook.Secret, d.Body))
	}
}

func hexMAC(h func() hash.Hash, secret string, body []byte) string {
	mac := hmac.New(h, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// snapshot copies the delivery log.
func (s *sender) snapshot() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.log))
	for i, d := range s.log {
		out[i] = *d
	}
	return out
}

// newUUID returns a random version 4 UUID. It is drawn from crypto/rand,
// not the seed: forges restarted with one seed must not repeat keys that a
// receiver has already seen.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
