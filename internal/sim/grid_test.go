package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestGridDecodingErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown axis", "axes:\n  windowz: [2]\n", []string{"line 2: axes.windowz: unknown field"}},
		{"unknown base field", "base:\n  mrs: 10\n  max_paralel: 3\n", []string{"line 3: base.max_paralel: unknown field"}},
		{"unknown top-level field", "bases:\n  mrs: 10\n", []string{"line 1: bases: unknown field"}},
		{"unknown field of an arrival", "axes:\n  arrivals:\n    - {name: b, arrival: backlog, rate: 3}\n", []string{"line 3: axes.arrivals[0].rate: unknown field"}},
		{"wrong type in a list", "axes:\n  windows:\n    - 2\n    - x\n", []string{"line 4: axes.windows[1]: cannot unmarshal", "`x`"}},
		{"bad duration", "base:\n  ci_mean: soon\n", []string{"line 2: base.ci_mean:", `"soon"`}},
		{"list where a value goes", "base:\n  seed: [1, 2]\n", []string{"line 2: base.seed: want a single value"}},
		{"value where a list goes", "axes:\n  windows: 5\n", []string{"line 2: axes.windows: want a list"}},
		{"set twice", "base:\n  mrs: 3\n  mrs: 4\n", []string{"line 3: base.mrs: set twice"}},
		{"probability out of range", "axes:\n  break_probabilities:\n    - 0.1\n    - 1.5\n", []string{"line 4: axes.break_probabilities[1]:", "break_probability", "1.5"}},
		{"flake out of range", "axes:\n  flake_probabilities: [-0.1]\n", []string{"line 2: axes.flake_probabilities[0]:", "flake_probability"}},
		{"window below min_window", "base:\n  min_window: 5\naxes:\n  windows: [10, 2]\n", []string{"line 4: axes.windows[1]:", "min_window"}},
		{"bad base field not swept", "base:\n  conflict_probability: 2\n", []string{"line 2: base.conflict_probability:"}},
		{"repeated window", "axes:\n  windows: [2, 5, 2]\n", []string{"line 2: axes.windows[2]: 2 is listed twice"}},
		{"unknown CI", "axes:\n  ci_shapes:\n    - {ci: gamma, spread: 0.2}\n", []string{"line 3: axes.ci_shapes[0].ci:", "gamma"}},
		{"fixed with a spread", "axes:\n  ci_shapes:\n    - ci: fixed\n      spread: 0.2\n", []string{"line 4: axes.ci_shapes[0].spread: a fixed duration has no spread"}},
		{"normal too wide", "axes:\n  ci_shapes:\n    - {ci: normal, spread: 0.8}\n", []string{"line 3: axes.ci_shapes[0].spread:", "at most 0.5"}},
		{"lognormal without spread", "axes:\n  ci_shapes:\n    - {ci: lognormal}\n", []string{"axes.ci_shapes[0].spread:", "positive spread"}},
		{"poisson with rate and load", "axes:\n  arrivals:\n    - {name: h, arrival: poisson, rate_per_hour: 3, load: 0.5}\n", []string{"line 3: axes.arrivals[0]:", "one of rate_per_hour and load"}},
		{"backlog with a load", "axes:\n  arrivals:\n    - {name: b, arrival: backlog, load: 0.5}\n", []string{"line 3: axes.arrivals[0]:", "neither rate_per_hour nor load"}},
		{"unnamed arrival", "axes:\n  arrivals:\n    - {arrival: backlog}\n", []string{"line 3: axes.arrivals[0]: needs a name"}},
		{"arrival named twice", "axes:\n  arrivals:\n    - {name: b, arrival: backlog}\n    - {name: b, arrival: backlog, mrs: 9}\n", []string{"line 4: axes.arrivals[1].name:", "used twice"}},
		{"unknown arrival", "axes:\n  arrivals:\n    - {name: b, arrival: burst}\n", []string{"line 3: axes.arrivals[0].arrival:", "burst"}},
		{"subject not a planner strategy", "subject: trunk\n", []string{"line 1: subject: must be one of serial, trainyard, thrift", `got "trunk"`}},
		{"subject the baseline", "axes:\n  windows: [2]\nsubject: gitlab\n", []string{"line 3: subject:", `got "gitlab"`}},
		{"two documents", "base:\n  mrs: 3\n---\nbase:\n  mrs: 4\n", []string{"more than one YAML document"}},
		{"empty", "", []string{"no grid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseGrid([]byte(tt.yaml))
			if !errors.Is(err, ErrInvalidGrid) {
				t.Fatalf("err = %v, want ErrInvalidGrid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestGridAxesDefaultToTheBase(t *testing.T) {
	g, err := ParseGrid([]byte("base:\n  mrs: 30\n  max_parallel: 7\n  ci: lognormal\n  ci_spread: 15m\n"))
	if err != nil {
		t.Fatal(err)
	}
	pts, err := g.Points()
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultScenario()
	want.MRs, want.MaxParallel, want.CI, want.CISpread = 30, 7, DurationLognormal, Duration(15*time.Minute)
	if len(pts) != 1 || pts[0].Scenario != want || pts[0].CI != "lognormal 0.5" || pts[0].Arrival != ArrivalBacklog {
		t.Errorf("points = %+v, want one of %+v", pts, want)
	}
}

// tinyGrid is testdata/tiny-grid.yaml's points, built here rather than by
// Grid.Points, in its documented order: arrival, CI shape, window, break
// and flake probability.
func tinyGrid(t *testing.T) []Scenario {
	t.Helper()
	base := DefaultScenario()
	base.MRs, base.CIMean, base.BatchSize, base.MinWindow, base.Seed = 40, Duration(30*time.Minute), 4, 2, 3
	var out []Scenario
	for _, arrival := range []string{"backlog", "half-load"} {
		for _, ci := range []string{DurationFixed, DurationLognormal} {
			for _, w := range []int{2, 5} {
				for _, p := range []float64{0.05, 0.2} {
					s := base
					s.MaxParallel, s.BreakProbability, s.FlakeProbability, s.CI = w, p, 0.02, ci
					if ci == DurationLognormal {
						s.CISpread = Duration(15 * time.Minute)
					}
					if arrival == "half-load" {
						// Half of gitlab's throughput on a backlog of the same point.
						r := strategy(t, s, "gitlab")
						s.Arrival, s.RatePerHour = ArrivalPoisson, 0.5*r.ThroughputPerHour
					}
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// plannerStrategies are the planner's own configurations; every other
// strategy is a peer merge queue.
func plannerStrategies() []string {
	return []string{"serial", "gitlab", "trainyard", "thrift", "trainyard-adaptive", BisectStrategy}
}

// expectedRatios computes a point's ratios from results run one by one,
// as docs say: trainyard over gitlab, and over the best peer among those
// that merged at least 90% of the good MRs (all peers for good evicted).
func expectedRatios(t *testing.T, s Scenario) (vsGitLab, vsPeer [5]float64, behind []string, res map[string]Result) {
	t.Helper()
	res = map[string]Result{}
	var peers []string
	for _, st := range Strategies(s) {
		r, err := Simulate(s, st)
		if err != nil {
			t.Fatalf("%s: %v", st.Name, err)
		}
		res[st.Name] = r
		if !slices.Contains(plannerStrategies(), st.Name) {
			peers = append(peers, st.Name)
		}
	}
	good := 0
	for _, m := range newPopulation(s).mrs {
		if !m.broken {
			good++
		}
	}
	metrics := []struct {
		higher, perMerge bool
		v                func(Result) float64
	}{
		{true, false, func(r Result) float64 { return r.ThroughputPerHour }},
		{false, true, func(r Result) float64 { return r.PipelinesPerMerged }},
		{false, false, func(r Result) float64 { return float64(r.GoodEvicted) }},
		{false, true, func(r Result) float64 { return r.TTMP50Minutes }},
		{false, true, func(r Result) float64 { return r.TTMP95Minutes }},
	}
	div := func(a, b float64) float64 {
		switch {
		case a == 0 && b == 0:
			return 1
		case b == 0:
			return math.Inf(1)
		}
		return a / b
	}
	ty, gl := res["trainyard"], res["gitlab"]
	var bestVals [5]float64
	for i, m := range metrics {
		vsGitLab[i] = div(m.v(ty), m.v(gl))
		best := math.NaN()
		for _, p := range peers {
			r := res[p]
			if (m.perMerge && r.Merged == 0) || (i != 2 && float64(r.Merged) < 0.9*float64(good)) {
				continue
			}
			if v := m.v(r); math.IsNaN(best) || (m.higher && v > best) || (!m.higher && v < best) {
				best = v
			}
		}
		bestVals[i] = best
		vsPeer[i] = math.NaN()
		if !math.IsNaN(best) {
			vsPeer[i] = div(m.v(ty), best)
		}
	}
	behind = []string{}
	if ty.ThroughputPerHour < gl.ThroughputPerHour {
		behind = append(behind, BehindThroughputVsGitLab)
	}
	if ty.ThroughputPerHour < bestVals[0] {
		behind = append(behind, BehindThroughputVsBestPeer)
	}
	if ty.PipelinesPerMerged > gl.PipelinesPerMerged {
		behind = append(behind, BehindPipelinesPerMergedVsGitLab)
	}
	if float64(ty.GoodEvicted) > bestVals[2] {
		behind = append(behind, BehindGoodEvictedVsBestPeer)
	}
	return vsGitLab, vsPeer, behind, res
}

func sameRatio(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func runTinyGrid(t *testing.T) GridReport {
	t.Helper()
	g, err := LoadGrid("testdata/tiny-grid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunGrid(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestGridRatiosMatchIndependentRuns runs every point of the tiny grid
// again, one strategy at a time, and holds the report's ratios, its table
// and its summary to the ratios computed from those results.
func TestGridRatiosMatchIndependentRuns(t *testing.T) {
	rep := runTinyGrid(t)
	scenarios := tinyGrid(t)
	if len(rep.Points) != len(scenarios) {
		t.Fatalf("%d points, want %d", len(rep.Points), len(scenarios))
	}
	var table bytes.Buffer
	if err := WriteGridTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	rows := tableRows(table.String(), len(rep.Points))
	var allGitLab, allPeer [5][]float64
	leftOut := 0
	for i, s := range scenarios {
		pt := rep.Points[i]
		if pt.Scenario != s {
			t.Fatalf("point %d ran %+v, want %+v", i, pt.Scenario, s)
		}
		vsGitLab, vsPeer, behind, res := expectedRatios(t, s)
		for _, r := range pt.Results {
			if r != res[r.Name] {
				t.Errorf("point %d %s: %+v, run alone %+v", i, r.Name, r, res[r.Name])
			}
		}
		leftOut += len(pt.LeftOut)
		cells := rows[i]
		for m := range 5 {
			got := [2]float64{float64(*pick(&pt.VsGitLab, m)), float64(*pick(&pt.VsBestPeer, m))}
			want := [2]float64{vsGitLab[m], vsPeer[m]}
			for k := range 2 {
				if !sameRatio(got[k], want[k]) {
					t.Errorf("point %d (%s) metric %d ratio %d = %v, want %v", i, pt.Label(), m, k, got[k], want[k])
				}
				// The table's ratio columns start after the five axis columns.
				if cell := cells[5+5*k+m]; cell != Ratio(want[k]).String() {
					t.Errorf("point %d table cell %d = %q, want %q", i, 5+5*k+m, cell, Ratio(want[k]).String())
				}
			}
			allGitLab[m] = append(allGitLab[m], vsGitLab[m])
			allPeer[m] = append(allPeer[m], vsPeer[m])
		}
		if !slices.Equal(pt.Behind, behind) {
			t.Errorf("point %d (%s) behind %v, want %v", i, pt.Label(), pt.Behind, behind)
		}
	}
	if leftOut == 0 {
		t.Error("no peer was left out at any point: the tiny grid no longer tests the 90% rule")
	}
	for m := range 5 {
		for k, all := range [][]float64{allGitLab[m], allPeer[m]} {
			got := *pick(&rep.Summary.VsGitLab, m)
			if k == 1 {
				got = *pick(&rep.Summary.VsBestPeer, m)
			}
			wantMin, wantMedian := minMedian(all)
			if !sameRatio(float64(got.Min), wantMin) || !sameRatio(float64(got.Median), wantMedian) {
				t.Errorf("metric %d ratio %d: min %v median %v, want %v, %v", m, k, got.Min, got.Median, wantMin, wantMedian)
			}
		}
	}
	if !strings.Contains(table.String(), "trainyard behind at ") {
		t.Errorf("table has no behind line:\n%s", table.String())
	}
}

// tableRows splits the first n rows after the header of the point table
// into cells; the arrival and CI columns may hold a space ("lognormal
// 0.5"), so a CI shape's spread is joined back to its name.
func tableRows(table string, n int) [][]string {
	var rows [][]string
	sc := bufio.NewScanner(strings.NewReader(table))
	header := false
	for sc.Scan() && len(rows) < n {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) > 0 && f[0] == "arrival":
			header = true
		case header:
			if len(f) > 2 && (f[1] == DurationNormal || f[1] == DurationLognormal) {
				f = append([]string{f[0], f[1] + " " + f[2]}, f[3:]...)
			}
			rows = append(rows, f)
		}
	}
	return rows
}

func minMedian(vs []float64) (float64, float64) {
	var ok []float64
	for _, v := range vs {
		if !math.IsNaN(v) {
			ok = append(ok, v)
		}
	}
	if len(ok) == 0 {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(ok)
	n := len(ok)
	if n%2 == 1 {
		return ok[0], ok[n/2]
	}
	return ok[0], (ok[n/2-1] + ok[n/2]) / 2
}

func TestGridPeers(t *testing.T) {
	rep := runTinyGrid(t)
	var names []string
	for _, st := range Strategies(rep.Points[0].Scenario) {
		names = append(names, st.Name)
	}
	if !slices.Equal(rep.Strategies, names) {
		t.Errorf("strategies = %v, want %v", rep.Strategies, names)
	}
	for _, n := range plannerStrategies() {
		if slices.Contains(rep.Peers, n) {
			t.Errorf("%s counted as a peer", n)
		}
	}
	if len(rep.Peers) != len(names)-len(plannerStrategies()) {
		t.Errorf("peers = %v of %v", rep.Peers, names)
	}
}

func TestGridOutputDoesNotDependOnTheWorkers(t *testing.T) {
	var out [2][]byte
	for i, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		rep := runTinyGrid(t)
		runtime.GOMAXPROCS(prev)
		var err error
		if out[i], err = json.Marshal(rep); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out[0], out[1]) {
		t.Error("one worker and two gave different reports")
	}
}

func TestGridStopsWhenCancelled(t *testing.T) {
	g, err := LoadGrid("testdata/tiny-grid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RunGrid(ctx, g); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func wantKeys(t *testing.T, what string, m any, want ...string) map[string]any {
	t.Helper()
	obj, ok := m.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want an object", what, m)
	}
	slices.Sort(want)
	if got := keys(obj); !slices.Equal(got, want) {
		t.Errorf("%s keys = %v, want %v", what, got, want)
	}
	return obj
}

// TestGridJSONShape holds -o json to the shape docs/simulation.md gives.
func TestGridJSONShape(t *testing.T) {
	b, err := json.Marshal(runTinyGrid(t))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "report", doc, "strategies", "peers", "subject", "points", "summary")
	if doc["subject"] != "trainyard" {
		t.Errorf("subject = %v, want trainyard", doc["subject"])
	}
	metrics := []string{"throughput", "pipelines_per_merged", "good_evicted", "ttm_p50", "ttm_p95"}
	points := doc["points"].([]any)
	if len(points) != 16 {
		t.Fatalf("%d points, want 16", len(points))
	}
	for i, p := range points {
		pt := wantKeys(t, "point", p, "window", "break_probability", "flake_probability", "ci", "arrival", "scenario",
			"results", "best_peer", "left_out", "vs_gitlab", "vs_best_peer", "behind")
		for _, k := range []string{"vs_gitlab", "vs_best_peer"} {
			for m, v := range wantKeys(t, k, pt[k], metrics...) {
				if _, ok := v.(float64); !ok && v != nil {
					t.Errorf("point %d %s.%s = %v, want a number or null", i, k, m, v)
				}
			}
		}
		for m, v := range wantKeys(t, "best_peer", pt["best_peer"], metrics...) {
			if _, ok := v.(string); !ok {
				t.Errorf("point %d best_peer.%s = %v, want a name", i, m, v)
			}
		}
		if _, ok := pt["behind"].([]any); !ok {
			t.Errorf("point %d behind = %v, want a list", i, pt["behind"])
		}
		if _, ok := pt["left_out"].([]any); !ok {
			t.Errorf("point %d left_out = %v, want a list", i, pt["left_out"])
		}
		if n := len(pt["results"].([]any)); n != len(doc["strategies"].([]any)) {
			t.Errorf("point %d has %d results", i, n)
		}
	}
	sum := wantKeys(t, "summary", doc["summary"], "points", "vs_gitlab", "vs_best_peer", "behind", "behind_counts")
	for _, k := range []string{"vs_gitlab", "vs_best_peer"} {
		for m, v := range wantKeys(t, "summary."+k, sum[k], metrics...) {
			wantKeys(t, "summary."+k+"."+m, v, "min", "median", "min_at")
		}
	}
	wantKeys(t, "behind_counts", sum["behind_counts"], BehindThroughputVsGitLab, BehindThroughputVsBestPeer,
		BehindPipelinesPerMergedVsGitLab, BehindGoodEvictedVsBestPeer)
	if _, ok := sum["behind"].([]any); !ok {
		t.Errorf("summary.behind = %v, want a list", sum["behind"])
	}
}

func TestRatioJSON(t *testing.T) {
	for _, tt := range []struct {
		r    Ratio
		want string
	}{{1.25, "1.25"}, {Ratio(math.Inf(1)), "null"}, {Ratio(math.NaN()), "null"}, {0, "0"}} {
		b, err := json.Marshal(tt.r)
		if err != nil || string(b) != tt.want {
			t.Errorf("%v: %s, %v; want %s", tt.r, b, err, tt.want)
		}
	}
	for _, tt := range [][3]float64{{0, 0, 1}, {3, 0, math.Inf(1)}, {3, 2, 1.5}, {math.NaN(), 2, math.NaN()}, {2, math.NaN(), math.NaN()}} {
		if got := float64(ratioOf(tt[0], tt[1])); !sameRatio(got, tt[2]) {
			t.Errorf("ratio %v/%v = %v, want %v", tt[0], tt[1], got, tt[2])
		}
	}
}

// TestGridSubject: a grid whose subject is trainyard-bisect holds that
// strategy, not trainyard, to gitlab and the peers.
func TestGridSubject(t *testing.T) {
	data, err := os.ReadFile("testdata/tiny-grid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGrid(append(data, "subject: trainyard-bisect\n"...))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunGrid(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	differs := false
	for i, pt := range rep.Points {
		res := map[string]Result{}
		for _, r := range pt.Results {
			res[r.Name] = r
		}
		want := res[BisectStrategy].ThroughputPerHour / res["gitlab"].ThroughputPerHour
		if got := float64(pt.VsGitLab.Throughput); math.Abs(got-want) > 1e-9 {
			t.Errorf("point %d: throughput vs gitlab %v, want %s's %v", i, got, BisectStrategy, want)
		}
		differs = differs || res[BisectStrategy].ThroughputPerHour != res["trainyard"].ThroughputPerHour
	}
	if !differs {
		t.Error("trainyard-bisect merged as trainyard at every point: the grid cannot tell which it compared")
	}
	var table bytes.Buffer
	if err := WriteGridTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(table.String(), "trainyard-bisect over gitlab") || !strings.Contains(table.String(), "\ntrainyard-bisect behind at ") {
		t.Errorf("table does not name its subject:\n%s", table.String())
	}
}
