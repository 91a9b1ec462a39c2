package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/trainyard/trainyard/internal/engine"
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

// BenchmarkNotify is the cost Notify adds to a train's step: matching,
// de-duplication and queueing for two of four routes, with the queue
// emptied as fast as it fills (as by workers keeping up).
func BenchmarkNotify(b *testing.B) {
	evs := benchEvents(b.N)
	n, err := New(Options{Routes: benchRoutes("http://127.0.0.1:1/x")})
	if err != nil {
		b.Fatal(err)
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-n.queue:
			case <-stop:
				return
			}
		}
	}()
	defer func() { close(stop); <-stopped }()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		n.Notify(ctx, appKey, evs[i])
	}
}

// BenchmarkNotifyQueueFull is Notify's cost during a chat outage, when
// every notification is dropped.
func BenchmarkNotifyQueueFull(b *testing.B) {
	evs := benchEvents(b.N)
	n, err := New(Options{QueueSize: 1, Routes: benchRoutes("http://127.0.0.1:1/x")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	n.Notify(ctx, train.Key{Forge: "gitlab", Project: "other/proj", Branch: "main"}, pausedEvent())
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
// receiver: rendering, JSON and HTTP, two workers.
func BenchmarkDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	evs := benchEvents(b.N)
	c := &counts{}
	n, err := New(Options{QueueSize: b.N + 1, Counter: c, Routes: []Route{{Kind: KindSlack, URL: Secret(srv.URL + "/hook")}}})
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
	n.Close()
	b.StopTimer()
	if got := c.get(train.NotifyMerged, OutcomeSent); got != b.N {
		b.Fatalf("sent %d of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}
