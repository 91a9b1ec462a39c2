package app_test

// The scale benchmark runs the whole service, as trainyard serve builds it,
// on 1 and 3 replicas against the fake forge with instant CI, real git and
// a real redis-server (internal/loadtest says how). It takes about half an
// hour on 2 cores; run it with
//
//	go test -run '^$' -bench Scale -benchtime 1x -timeout 90m ./internal/app/
//
// or one part of it with a narrower pattern, such as
// -bench 'Scale$/gitlab/100x2/replicas=3/happy' or -bench ScaleManual.
// The figures, and the targets they answer to, are in docs/benchmarks.md.
// With SCALE_LOG=file the replicas log there at debug level, with every
// observation and action of their engines.

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/loadtest"
)

// logEnv names the file the replicas log to, if any.
const logEnv = "SCALE_LOG"

// shape is how many trains run at once, with how many MRs each, and how
// many pipelines each train runs at once, each testing how many MRs.
type shape struct {
	trains, mrs, maxParallel, batchSize int
}

func (s shape) String() string { return fmt.Sprintf("%dx%d", s.trains, s.mrs) }

var (
	scaleForges   = []string{"gitlab", "github"}
	scaleReplicas = []int{1, 3}
	// One train with 4 cars tested at once, each on its own pipeline (the
	// default batches of up to 8 would test the 20 MRs in 2 to 4
	// pipelines, too few pushes to tell a p99), and 100 active trains. On
	// GitHub the service keeps its writes (its comments, mostly) within 80
	// a minute and 500 an hour per token, below GitHub's secondary rate
	// limits: 100 trains of 2 MRs would take over 5 minutes there, and
	// with broken MRs could reach the hourly bound, so GitHub's trains
	// get one MR each.
	scaleShapes = map[string][]shape{
		"gitlab": {{trains: 1, mrs: 20, maxParallel: 4, batchSize: 1}, {trains: 100, mrs: 2, maxParallel: 4}},
		"github": {{trains: 1, mrs: 20, maxParallel: 4, batchSize: 1}, {trains: 100, mrs: 1, maxParallel: 4}},
	}
	// The share of MRs whose pipelines fail.
	scaleVariants = []struct {
		name   string
		broken float64
	}{{"happy", 0}, {"broken10", 0.1}}
)

// BenchmarkScale runs every MR of every train to its end and reports the
// merge rate, the time from a pipeline's success to the target push, and
// what each merged MR cost the forge and Redis.
func BenchmarkScale(b *testing.B) {
	eachScale(b, func(b *testing.B, forge string, s shape, replicas int) {
		for _, v := range scaleVariants {
			b.Run(v.name, func(b *testing.B) {
				benchTrains(b, loadtest.Options{Forge: forge, Replicas: replicas, Trains: s.trains, MRs: s.mrs,
					MaxParallel: s.maxParallel, BatchSize: s.batchSize, Broken: v.broken, SweepInterval: 10 * time.Minute, Seed: 1, LogPath: os.Getenv(logEnv)})
			})
		}
	})
}

// eachScale runs f as a sub-benchmark of every forge, shape and number of
// replicas.
func eachScale(b *testing.B, f func(b *testing.B, forge string, s shape, replicas int)) {
	for _, forge := range scaleForges {
		b.Run(forge, func(b *testing.B) {
			for _, s := range scaleShapes[forge] {
				b.Run(s.String(), func(b *testing.B) {
					for _, n := range scaleReplicas {
						b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) { f(b, forge, s, n) })
					}
				})
			}
		})
	}
}

// benchTrains runs o b.N times, each on a fresh rig. The sweep interval is
// long, so that no sweep but the one at start reads the forge: the
// requests counted are those the events cost (BenchmarkScaleManual
// measures the sweeps).
func benchTrains(b *testing.B, o loadtest.Options) {
	var all loadtest.TrainResult
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		rig := loadtest.Start(ctx, b, o)
		res, err := rig.RunTrains(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		all.Add(res)
	}
	merged := float64(max(all.Merged, 1))
	b.ReportMetric(float64(all.Elapsed.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(float64(all.Merged)/all.Elapsed.Seconds(), "merges/s")
	b.ReportMetric(ms(loadtest.Percentile(all.Latencies, 0.5)), "p50-ms")
	b.ReportMetric(ms(loadtest.Percentile(all.Latencies, 0.99)), "p99-ms")
	b.ReportMetric(ms(loadtest.Percentile(all.HookLatencies, 0.5)), "hook-p50-ms")
	b.ReportMetric(ms(loadtest.Percentile(all.HookLatencies, 0.99)), "hook-p99-ms")
	b.ReportMetric(float64(all.Requests.Reads)/merged, "reads/MR")
	b.ReportMetric(float64(all.Requests.Writes)/merged, "writes/MR")
	b.ReportMetric(float64(all.Requests.Git)/merged, "git-reqs/MR")
	b.ReportMetric(float64(all.Requests.GitOps)/merged, "git-ops/MR")
	b.ReportMetric(float64(all.Redis.Total())/merged, "redis-cmds/MR")
	b.ReportMetric(float64(all.Merged)/float64(b.N), "merged")
	b.ReportMetric(float64(all.Evicted)/float64(b.N), "evicted")
	b.ReportMetric(float64(all.Pushes)/float64(b.N), "pushes")
	b.ReportMetric(float64(all.Pipelines)/float64(b.N), "pipelines")
	b.Logf("%d MRs: %d merged, %d evicted, %d unexpected; %d target pushes (%d unmatched), %d pipelines; %d webhooks lost",
		all.MRs, all.Merged, all.Evicted, all.Unexpected, all.Pushes, all.Unmatched, all.Pipelines, all.HooksLost)
	b.Logf("forge REST calls by route: %s", top(all.Routes, 0))
	b.Logf("redis commands by name: %s", top(all.Redis, 12))
	if all.Unexpected > 0 || all.HooksLost > 0 || all.Unmatched > 0 {
		b.Errorf("%d MRs ended unexpectedly, %d webhooks lost, %d pushes of a commit no pipeline passed", all.Unexpected, all.HooksLost, all.Unmatched)
	}
}

// BenchmarkScaleManual runs the trains on CI that only the benchmark
// finishes. It reports what the sweeps ask of the forge and Redis per
// sweep interval while no webhook comes, with cars waiting on their
// pipelines and once every train is empty; the heap the waiting trains
// take; and the delay from a pipeline's success to the target push when
// pipelines pass one at a time: on one train of 20 MRs with 4 pipelines
// at once, the oldest pipeline, a quarter of a second apart, until all
// merged; on 100 trains, the first car of each, a quarter of a second
// apart on GitLab (where all 100 trains keep a car meanwhile), a second
// apart on GitHub after a minute without writes (the service's budget of
// 80 writes a minute there would otherwise hold the pushes back).
func BenchmarkScaleManual(b *testing.B) {
	const interval = 2 * time.Second
	plan := func(forge string, s shape) loadtest.Plan {
		switch {
		case s.trains == 1:
			return loadtest.Plan{Intervals: 5, Pace: 250 * time.Millisecond}
		case forge == "github":
			return loadtest.Plan{Intervals: 10, Rounds: 1, Pace: time.Second, Rest: time.Minute}
		}
		return loadtest.Plan{Intervals: 10, Rounds: 1, Pace: 250 * time.Millisecond}
	}
	eachScale(b, func(b *testing.B, forge string, s shape, replicas int) {
		benchManual(b, loadtest.Options{Forge: forge, Replicas: replicas, Trains: s.trains, MRs: s.mrs, MaxParallel: s.maxParallel,
			BatchSize: s.batchSize, Manual: true, SweepInterval: interval, Seed: 1, LogPath: os.Getenv(logEnv)}, plan(forge, s))
	})
}

func benchManual(b *testing.B, o loadtest.Options, plan loadtest.Plan) {
	var all loadtest.ManualResult
	for range b.N {
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		rig := loadtest.Start(ctx, b, o)
		b.StartTimer()
		res, err := rig.RunManual(ctx, plan)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		all.Add(res)
	}
	per := float64(all.Intervals)
	b.ReportMetric(float64(all.Waiting.Total())/per, "waiting-reqs/interval")
	b.ReportMetric(float64(all.Waiting.CatchUp)/per, "waiting-catchup/interval")
	b.ReportMetric(float64(all.Empty.Total())/per, "empty-reqs/interval")
	b.ReportMetric(float64(all.Empty.CatchUp)/per, "empty-catchup/interval")
	b.ReportMetric(float64(all.WaitingRedis)/per, "waiting-redis/interval")
	b.ReportMetric(float64(all.EmptyRedis)/per, "empty-redis/interval")
	b.ReportMetric(all.HeapPerTrain/float64(b.N), "B/active-train")
	b.ReportMetric(all.HookBodiesPerTrain/float64(b.N), "hook-B/active-train")
	b.ReportMetric(ms(loadtest.Percentile(all.Latencies, 0.5)), "p50-ms")
	b.ReportMetric(ms(loadtest.Percentile(all.Latencies, 0.99)), "p99-ms")
	b.ReportMetric(ms(loadtest.Percentile(all.HookLatencies, 0.5)), "hook-p50-ms")
	b.ReportMetric(ms(loadtest.Percentile(all.HookLatencies, 0.99)), "hook-p99-ms")
	b.ReportMetric(float64(len(all.Latencies))/float64(b.N), "pushes")
	b.Logf("per %s interval, %d trains with cars waiting: %s; empty: %s", all.Interval, all.Trains/b.N,
		per1(all.Waiting, per), per1(all.Empty, per))
	if all.Unmatched > 0 {
		b.Errorf("%d pushes of a commit no pipeline passed", all.Unmatched)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func per1(r loadtest.Requests, per float64) string {
	return fmt.Sprintf("reads %.1f (catch-up %.1f), writes %.1f, git %.1f", float64(r.Reads)/per, float64(r.CatchUp)/per,
		float64(r.Writes)/per, float64(r.Git)/per)
}

// top renders the n largest counts (all when n is 0), largest first.
func top[V int | int64](m map[string]V, n int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return int(m[b] - m[a])
		}
		return strings.Compare(a, b)
	})
	if n > 0 && len(keys) > n {
		keys = keys[:n]
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
