package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/train"
)

// keepAlive is how long a quiet stream goes before a comment line, so
// proxies do not close it as idle.
const keepAlive = 15 * time.Second

// stream serves GET /events: Server-Sent Events named "train" whose data
// is the page of a train that changed (its version rose, or it appeared or
// went). It polls the trains' versions every Poll within the request's own
// goroutine, so the stream's work ends when the browser leaves or the
// server shuts down, and at most MaxStreams run at once.
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request) {
	if _, err := d.authorize(r, false); err != nil {
		d.fail(w, r, err)
		return
	}
	busy := &statusError{http.StatusServiceUnavailable, "too many live update streams; reload the page to see changes"}
	if !d.signedIn(r) {
		select {
		case d.anonymous <- struct{}{}:
			defer func() { <-d.anonymous }()
		default:
			d.fail(w, r, busy)
			return
		}
	}
	select {
	case d.streams <- struct{}{}:
		defer func() { <-d.streams }()
	default:
		d.fail(w, r, busy)
		return
	}
	ctx := r.Context()
	seen, err := d.versions(ctx)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on at once
	rc := http.NewResponseController(w)
	// The server's write timeout is meant for pages; a stream extends its
	// deadline before every write instead. (Its read deadline is lifted
	// by net/http itself while it watches for the browser leaving.)
	send := func(s string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(d.Poll + keepAlive))
		if _, err := fmt.Fprint(w, s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 3000\n: watching trains\n\n") {
		return
	}
	tick := time.NewTicker(d.Poll)
	defer tick.Stop()
	quiet := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now, err := d.versions(ctx)
		if err != nil {
			if ctx.Err() == nil {
				d.Logger.Warn("live updates: read train versions", zap.Error(err))
			}
			continue
		}
		for _, k := range changed(seen, now) {
			if !send("event: train\ndata: " + trainURL(k) + "\n\n") {
				return
			}
			quiet = time.Now()
		}
		seen = now
		if time.Since(quiet) >= keepAlive {
			if !send(": still watching\n\n") {
				return
			}
			quiet = time.Now()
		}
	}
}

// versions reads every train's version.
func (d *Dashboard) versions(ctx context.Context) (map[train.Key]int64, error) {
	keys, err := d.Trains.Trains(ctx)
	if err != nil {
		return nil, fmt.Errorf("list trains: %w", err)
	}
	out := make(map[train.Key]int64, len(keys))
	for _, k := range keys {
		t, err := d.Trains.Train(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", trainName(k), err)
		}
		out[k] = t.Version
	}
	return out, nil
}

// changed lists the trains whose version differs between two readings,
// those that appeared or went included.
func changed(before, after map[train.Key]int64) []train.Key {
	var out []train.Key
	for k, v := range after {
		if w, ok := before[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}
