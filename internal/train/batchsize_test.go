package train

import (
	"strconv"
	"strings"
	"testing"
)

// The adaptive batch limit on its own. Each case starts from a train's
// stored counts, applies events in order ("m16": 16 cars merged, "f": a
// failed batch), and checks the limit in force after each and the counts
// stored at the end. With MaxParallel 2 the limit is the observed mean run,
// merged / (failed + 1), over 6.
func TestAdaptiveBatchLimit(t *testing.T) {
	adaptive := Settings{MaxParallel: 2, BatchSize: 4, MaxBatchSize: 32}
	for _, tc := range []struct {
		name           string
		s              Settings
		merged, failed int    // Train.BatchMerged and BatchFailed before the events
		events         string // space-separated
		want           []int  // the limit after each event
		stores         [2]int // Train.BatchMerged and BatchFailed at the end
	}{
		{name: "zero setting keeps BatchSize and counts nothing", s: Settings{MaxParallel: 2, BatchSize: 4},
			events: "m100 f m100", want: []int{4, 4, 4}},
		{name: "zero setting ignores stored counts", s: Settings{MaxParallel: 2, BatchSize: 4}, merged: 400,
			events: "m100 f", want: []int{4, 4}, stores: [2]int{400, 0}},
		{name: "a run of merges grows it", s: adaptive,
			events: "m24 m12 m12 m12", want: []int{4, 6, 8, 10}, stores: [2]int{60, 0}},
		{name: "a wider window needs a longer run", s: Settings{MaxParallel: 20, BatchSize: 4, MaxBatchSize: 32},
			events: "m100 m139 m241", want: []int{4, 4, 8}, stores: [2]int{480, 0}},
		{name: "it grows no further than MaxBatchSize", s: Settings{MaxParallel: 2, BatchSize: 4, MaxBatchSize: 12},
			events: "m60 m400", want: []int{10, 12}, stores: [2]int{460, 0}},
		{name: "each failure shrinks it", s: adaptive, merged: 144,
			events: "f f m72 f", want: []int{12, 8, 12, 9}, stores: [2]int{216, 3}},
		{name: "it shrinks no further than BatchSize", s: adaptive, merged: 60,
			events: "f f f", want: []int{5, 4, 4}, stores: [2]int{60, 3}},
		// The eighth failure halves both counts: the limit holds, and the
		// merges after weigh twice what they did.
		{name: "old runs fade", s: adaptive, merged: 1050, failed: 6,
			events: "f f m75", want: []int{21, 17, 20}, stores: [2]int{600, 4}},
		{name: "a MaxBatchSize below BatchSize caps from the start", s: Settings{MaxParallel: 2, BatchSize: 8, MaxBatchSize: 3},
			events: "m400 f", want: []int{3, 3}, stores: [2]int{400, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &planner{t: Train{Settings: tc.s.WithDefaults(), BatchMerged: tc.merged, BatchFailed: tc.failed}}
			for i, e := range strings.Fields(tc.events) {
				if e == "f" {
					p.failedBatch()
				} else {
					n, err := strconv.Atoi(strings.TrimPrefix(e, "m"))
					if err != nil {
						t.Fatal(err)
					}
					p.mergedBatch(n)
				}
				if got := p.batchLimit(); got != tc.want[i] {
					t.Fatalf("after event %d (%s): limit %d, want %d", i+1, e, got, tc.want[i])
				}
			}
			if got := [2]int{p.t.BatchMerged, p.t.BatchFailed}; got != tc.stores {
				t.Fatalf("stores merged, failed %v, want %v", got, tc.stores)
			}
		})
	}
}

// The limit a fresh train starts with, before anything was observed.
func TestAdaptiveBatchLimitStartsAtBatchSize(t *testing.T) {
	for _, tc := range []struct {
		s    Settings
		want int
	}{
		{Settings{}, DefaultBatchSize},
		{Settings{BatchSize: 3}, 3},
		{Settings{BatchSize: 3, MaxBatchSize: 10}, 3},
		{Settings{MaxBatchSize: 32}, DefaultBatchSize},
		{Settings{BatchSize: 1, MaxBatchSize: -5}, 1}, // negative is off
	} {
		p := &planner{t: New(Key{Forge: "f", Project: "p", Branch: "b"}, tc.s)}
		if got := p.batchLimit(); got != tc.want {
			t.Errorf("%+v: limit %d, want %d", tc.s, got, tc.want)
		}
	}
}
