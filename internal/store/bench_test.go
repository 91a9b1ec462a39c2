package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/train"
)

// benchTrain is a busy train: 50 cars on it, all being tested.
func benchTrain(key train.Key) train.Train {
	t := fullTrain(key, 50)
	t.Outbox = nil
	for i := range t.Cars {
		c := &t.Cars[i]
		c.State, c.Reason, c.LeftAt = train.StateRunning, nil, time.Time{}
	}
	return t
}

// saveStep changes a car of t and saves it over the version t has, the
// engine's hot path: it saves the train it loaded or saved last.
func saveStep(ctx context.Context, s *Store, t *train.Train, i int) error {
	t.Cars[i%len(t.Cars)].Attempts++
	saved, err := s.Save(ctx, *t)
	*t = saved
	return err
}

// loadSaveStep loads the train first, as a worker does when it takes the
// train over from another.
func loadSaveStep(ctx context.Context, s *Store, t *train.Train, i int) error {
	loaded, err := s.Load(ctx, t.Key)
	if err != nil {
		return err
	}
	*t = loaded
	return saveStep(ctx, s, t, i)
}

type step func(ctx context.Context, s *Store, t *train.Train, i int) error

// BenchmarkSave50Cars measures compare-and-set saves of a 50-car train on a
// real redis-server.
func BenchmarkSave50Cars(b *testing.B) {
	b.Run("save", func(b *testing.B) { benchSerial(b, saveStep) })
	b.Run("load-save", func(b *testing.B) { benchSerial(b, loadSaveStep) })
}

// BenchmarkSave50CarsParallel is BenchmarkSave50Cars with a train per
// goroutine, as several workers share one server.
func BenchmarkSave50CarsParallel(b *testing.B) {
	b.Run("save", func(b *testing.B) { benchParallel(b, saveStep) })
	b.Run("load-save", func(b *testing.B) { benchParallel(b, loadSaveStep) })
}

func benchSerial(b *testing.B, do step) {
	ctx := context.Background()
	s := New(redistest.Client(b), Options{Prefix: redistest.Prefix(b)})
	t, err := s.Save(ctx, benchTrain(testKey))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := do(ctx, s, &t, n); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "saves/s")
}

func benchParallel(b *testing.B, do step) {
	ctx := context.Background()
	s := New(redistest.Client(b), Options{Prefix: redistest.Prefix(b)})
	var next, saves atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := train.Key{Forge: "gitlab", Project: "group/project", Branch: fmt.Sprintf("b%d", next.Add(1))}
		t, err := s.Save(ctx, benchTrain(key))
		if err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			if err := do(ctx, s, &t, i); err != nil {
				b.Error(err)
				return
			}
			saves.Add(1)
		}
	})
	b.ReportMetric(float64(saves.Load())/b.Elapsed().Seconds(), "saves/s")
}
