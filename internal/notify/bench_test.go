package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

var _ engine.Notifier = (*Notifier)(nil)

// benchRoutes has four routes, two of which take gitlab group/my_app main.
func benchRoutes(url Secret) []Route {
	return []Route{
		{Project: "group/my_app", Kind: KindSlack, URL: url},
		{Project: "group/my_app", Branches: []string{"release/*"}, Kind: KindSlack, URL: url},
		{Project: "other/proj", Kind: KindMattermost, URL: url},
		{Forge: "gitlab", Branches: []string{"main"}, Kind: KindMattermost, URL: url},
	}
}

func benchEvents(n int) []train.Notify {
	evs := make([]train.Notify, n)
	for i := range evs {
		evs[i] = mergedEvent()
		evs[i].Key = "merged:" + strconv.Itoa(i)
	}
	return evs
}

// benchQueue is a queue on a real redis-server, so the benchmarks count
// its round trips.
func benchQueue(b *testing.B) Queue {
	return store.New(redistest.Client(b), store.Options{Prefix: redistest.Prefix(b)}).Notifications()
}

// BenchmarkNotify is the cost Notify adds to a train's step: matching,
// rendering and queueing in Redis for two of four routes, nothing sent.
func BenchmarkNotify(b *testing.B) {
	evs := benchEvents(b.N)
	n, err := New(Options{QueueSize: 2 * b.N, Queue: benchQueue(b), Routes: benchRoutes("http://127.0.0.1:1/x")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		n.Notify(ctx, appKey, evs[i])
	}
}

// BenchmarkNotifyQueueFull is Notify's cost during a long chat outage,
// when every route's queue is full and every notification is dropped.
func BenchmarkNotifyQueueFull(b *testing.B) {
	evs := benchEvents(b.N + 1)
	n, err := New(Options{QueueSize: 1, Queue: benchQueue(b), Routes: benchRoutes("http://127.0.0.1:1/x")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	n.Notify(ctx, appKey, evs[b.N])
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		n.Notify(ctx, appKey, evs[i])
	}
}

func BenchmarkRender(b *testing.B) {
	ev := mergedEvent()
	for _, kind := range []Kind{KindSlack, KindMattermost} {
		b.Run(string(kind), func(b *testing.B) {
			d := dialectFor(kind)
			b.ReportAllocs()
			for b.Loop() {
				_ = render(d, profiles, appKey, ev)
			}
		})
	}
}

// BenchmarkDeliver posts through the whole Notifier to a loopback
// receiver: rendering, the queue in Redis, JSON and HTTP, one route.
func BenchmarkDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	evs := benchEvents(b.N)
	c := &counts{}
	n, err := New(Options{QueueSize: b.N + 1, Queue: benchQueue(b), Counter: c, Routes: []Route{{Name: "ops", Kind: KindSlack, URL: Secret(srv.URL + "/hook")}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		n.Notify(context.Background(), appKey, evs[i])
	}
	deadline := time.Now().Add(time.Minute)
	for sent := 0; sent < b.N; sent = c.get("ops", train.NotifyMerged, OutcomeSent) {
		if time.Now().After(deadline) {
			b.Fatalf("sent %d of %d", sent, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	n.Close()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}
