// Package loadgen sends GitLab Note Hook deliveries to a webhook listener
// on this machine, as fast as a fixed number of workers can, and measures
// throughput and latency. Every delivery has a fresh delivery id, so the
// listener queues each one instead of dropping it as a repeat. It only
// talks to loopback addresses and always stops by itself.
package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on one run.
const (
	MaxCount       = 10_000_000
	MaxDuration    = 10 * time.Minute
	MaxConcurrency = 1024
)

// Defaults applied to zero Options fields.
const (
	DefaultConcurrency = 8
	DefaultEventType   = "Note Hook"
	DefaultTimeout     = 10 * time.Second
)

var (
	// ErrNotLoopback: the target is not an address on this machine.
	ErrNotLoopback = errors.New("target is not a loopback address")
	// ErrUnbounded: neither a count nor a duration bounds the run, or a
	// bound is beyond the limits.
	ErrUnbounded = errors.New("run is not bounded")
)

// Options describe a run. Count, Duration or both bound it; the run stops
// at whichever comes first.
type Options struct {
	URL         string // the listener's GitLab endpoint, on a loopback address
	Secret      string // sent as X-Gitlab-Token
	Payload     []byte // the Note Hook body sent every time
	EventType   string // X-Gitlab-Event
	Concurrency int
	Count       int
	Duration    time.Duration
	Timeout     time.Duration // per request
}

// Result is what a run measured. PerSecond counts successful deliveries.
type Result struct {
	Sent, OK, Errors int
	P50, P99         time.Duration
	PerSecond        float64
	Elapsed          time.Duration
	// Codes counts the answers by HTTP status; transport failures are 0.
	Codes map[int]int
}

func (o Options) check() (Options, error) {
	if err := CheckLoopback(o.URL); err != nil {
		return o, err
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.EventType == "" {
		o.EventType = DefaultEventType
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.Count <= 0 && o.Duration <= 0, o.Count > MaxCount, o.Duration > MaxDuration, o.Count < 0, o.Duration < 0:
		return o, fmt.Errorf("loadgen: count %d, duration %s (at most %d, %s): %w", o.Count, o.Duration, MaxCount, MaxDuration, ErrUnbounded)
	case o.Concurrency < 0 || o.Concurrency > MaxConcurrency:
		return o, fmt.Errorf("loadgen: concurrency %d, want 1 to %d", o.Concurrency, MaxConcurrency)
	case len(o.Payload) == 0:
		return o, errors.New("loadgen: no payload")
	}
	return o, nil
}

// CheckLoopback accepts only URLs whose host is localhost or a loopback IP.
// Names other than localhost are refused rather than resolved.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("loadgen: target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("loadgen: target %q: scheme %q, want http or https", raw, u.Scheme)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("loadgen: target %q: %w", raw, ErrNotLoopback)
}

// NewRequest builds one delivery as GitLab sends it, with id as both its
// X-Gitlab-Event-UUID and its Idempotency-Key.
func NewRequest(ctx context.Context, target, secret, eventType string, payload []byte, id string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("loadgen: request to %s: %w", target, err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitLab/17.6.0")
	h.Set("X-Gitlab-Event", eventType)
	h.Set("X-Gitlab-Token", secret)
	h.Set("X-Gitlab-Event-UUID", id)
	h.Set("Idempotency-Key", id)
	return req, nil
}

// NewClient returns an HTTP client that keeps one connection per worker.
func NewClient(concurrency int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil, // loopback only: never through a proxy
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			MaxConnsPerHost:     concurrency,
			DisableCompression:  true,
		},
	}
}

// Run sends deliveries until opts.Count are sent, opts.Duration has passed
// or ctx ends, and reports what it measured. Requests in flight when the
// duration ends are finished and counted.
func Run(ctx context.Context, opts Options) (Result, error) {
	opts, err := opts.check()
	if err != nil {
		return Result{}, err
	}
	client := NewClient(opts.Concurrency, opts.Timeout)
	defer client.CloseIdleConnections()
	stop := ctx
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	r := &run{opts: opts, client: client, prefix: rand.Text()[:12] + "-", codes: map[int]int{}}
	start := time.Now()
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Go(func() { r.work(ctx, stop) })
	}
	wg.Wait()
	return r.result(time.Since(start)), nil
}

// run is the shared state of one Run's workers.
type run struct {
	opts   Options
	client *http.Client
	prefix string
	seq    atomic.Int64

	mu        sync.Mutex
	latencies []time.Duration
	codes     map[int]int
	sent, ok  int
}

// work sends deliveries until the run's bound is reached.
func (r *run) work(ctx, stop context.Context) {
	var lat []time.Duration
	codes := map[int]int{}
	for stop.Err() == nil {
		n := r.seq.Add(1)
		if r.opts.Count > 0 && n > int64(r.opts.Count) {
			break
		}
		began := time.Now()
		code := r.send(ctx, r.prefix+strconv.FormatInt(n, 10))
		lat = append(lat, time.Since(began))
		codes[code]++
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latencies = append(r.latencies, lat...)
	for c, k := range codes {
		r.codes[c] += k
		r.sent += k
		if c >= 200 && c < 300 {
			r.ok += k
		}
	}
}

func (r *run) send(ctx context.Context, id string) int {
	return Post(ctx, r.client, r.opts.URL, r.opts.Secret, r.opts.EventType, r.opts.Payload, id)
}

// Post sends one delivery (see NewRequest) and returns the answer's
// status, or 0 if none came back. It reads the answer to the end, so the
// connection is reused.
func Post(ctx context.Context, c *http.Client, target, secret, eventType string, payload []byte, id string) int {
	req, err := NewRequest(ctx, target, secret, eventType, payload, id)
	if err != nil {
		return 0
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (r *run) result(elapsed time.Duration) Result {
	slices.Sort(r.latencies)
	res := Result{Sent: r.sent, OK: r.ok, Errors: r.sent - r.ok, Elapsed: elapsed, Codes: r.codes,
		P50: Percentile(r.latencies, 0.50), P99: Percentile(r.latencies, 0.99)}
	if elapsed > 0 {
		res.PerSecond = float64(r.ok) / elapsed.Seconds()
	}
	return res
}

// Percentile returns the p-quantile (0 < p <= 1) of sorted durations by
// the nearest-rank method, or 0 when there are none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
