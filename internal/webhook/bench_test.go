package webhook

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/webhook/loadgen"
)

// BenchmarkIngestGitLabNote measures the whole ingest path of a "/train add"
// Note Hook over real HTTP: token check, body read, client-go decode,
// normalise, de-duplicate and XADD on a real redis-server. Every delivery
// has a fresh id, so each one reaches the stream. Run it with -cpu to set
// the cores (client, handler and redis-server share them).
func BenchmarkIngestGitLabNote(b *testing.B) {
	rdb := redistest.Client(b)
	prefix := redistest.Prefix(b)
	st := store.New(rdb, store.Options{Prefix: prefix, EventsMaxLen: 1 << 30})
	h, err := New(Options{GitLabSecret: glSecret, DisableGitHub: true, Queue: st})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := edited(b, "gitlab/note_hook_merge_request.json", func(m map[string]any) {
		obj(b, m, "object_attributes")["note"] = "/train add"
	})
	const perCore = 8 // concurrent deliveries per GOMAXPROCS, as from many forge workers
	client := loadgen.NewClient(perCore*64, 10*time.Second)
	defer client.CloseIdleConnections()
	target, ids := srv.URL+GitLabPath, rand.Text()[:12]+"-"
	var (
		seq     atomic.Int64
		mu      sync.Mutex
		samples []time.Duration
	)
	b.SetParallelism(perCore)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var lat []time.Duration
		for pb.Next() {
			began := time.Now()
			id := ids + strconv.FormatInt(seq.Add(1), 10)
			if code := loadgen.Post(context.Background(), client, target, glSecret, "Note Hook", body, id); code != http.StatusAccepted {
				b.Errorf("delivery %s: status %d, want 202", id, code)
				return
			}
			lat = append(lat, time.Since(began))
		}
		mu.Lock()
		samples = append(samples, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	slices.Sort(samples)
	b.ReportMetric(float64(loadgen.Percentile(samples, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(loadgen.Percentile(samples, 0.99).Microseconds())/1000, "p99-ms")
	if n, err := rdb.XLen(context.Background(), prefix+":events").Result(); err != nil || n != int64(b.N) {
		b.Fatalf("stream holds %d events (%v), want %d", n, err, b.N)
	}
}
