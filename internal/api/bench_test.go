package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// benchServer serves the API over an engine whose store, on a real Redis,
// holds trains trains of cars cars each and a history of 50 merged cars on
// the first. Reads touch only the store, so the engine has no forge.
func benchServer(b *testing.B, trains, cars int) (string, train.Key) {
	b.Helper()
	ctx := context.Background()
	st := store.New(redistest.Client(b), store.Options{Prefix: redistest.Prefix(b)})
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var first train.Key
	for i := range trains {
		key := train.Key{Forge: "gitlab", Project: fmt.Sprintf("group/app-%03d", i), Branch: "main"}
		t := train.New(key, train.Settings{})
		for c := range cars {
			t.Cars = append(t.Cars, train.Car{MR: int64(c + 1), Title: fmt.Sprintf("Change %d", c+1), AddedBy: "alice",
				AddedAt: t0, State: train.StateRunning, Commit: "0123456789abcdef0123456789abcdef01234567",
				Pipeline: int64(1000 + c), PipelineStartedAt: t0, Attempts: 1})
		}
		if _, err := st.Save(ctx, t); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			first = key
		}
	}
	var hist []train.Car
	for c := range 50 {
		hist = append(hist, train.Car{MR: int64(500 + c), State: train.StateMerged, PipelineStartedAt: t0,
			LeftAt: t0.Add(time.Duration(10+c%7) * time.Minute), Reason: &train.Reason{Code: train.ReasonMerged, Message: train.Words("Merged.")}})
	}
	if err := st.AppendHistory(ctx, first, hist...); err != nil {
		b.Fatal(err)
	}
	eng := engine.New(engine.Config{Profile: gitlab.Profile("https://gitlab.example.com"), Owner: "bench"}, st, nil, nil)
	srv := httptest.NewServer(api.New(api.Options{
		Trains: engine.NewRouter(eng), Token: "t",
		Profiles: forge.Profiles{gitlab.Name: gitlab.Profile("https://gitlab.example.com")},
		Now:      func() time.Time { return t0.Add(5 * time.Minute) },
	}))
	b.Cleanup(srv.Close)
	return srv.URL, first
}

func benchGet(b *testing.B, url string) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkShowTrain reads one train of 50 cars with estimates.
func BenchmarkShowTrain(b *testing.B) {
	url, _ := benchServer(b, 1, 50)
	benchGet(b, url+"/api/v1/trains/gitlab/group%2Fapp-000/main")
}

// BenchmarkListTrains lists 100 trains of 5 cars.
func BenchmarkListTrains(b *testing.B) {
	url, _ := benchServer(b, 100, 5)
	benchGet(b, url+"/api/v1/trains")
}

// BenchmarkHistory reads 20 history entries.
func BenchmarkHistory(b *testing.B) {
	url, _ := benchServer(b, 1, 1)
	benchGet(b, url+"/api/v1/trains/gitlab/group%2Fapp-000/main/history?limit=20")
}
