package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/sim"
)

// strategyNames are the strategies sim compares, read from the simulator
// so that a strategy added there needs no change here.
func strategyNames() []string {
	var names []string
	for _, st := range sim.Strategies(sim.DefaultScenario()) {
		names = append(names, st.Name)
	}
	return names
}

func TestSimCommandJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	root := newRootCommand(&out, &errOut)
	root.SetArgs([]string{"sim", "-o", "json", "--mrs", "40", "--break", "0.1", "--ci", "normal", "--ci-mean", "20m", "--ci-spread", "4m", "--seed", "5"})
	if err := root.Execute(); err != nil {
		t.Fatalf("sim: %v (%s)", err, errOut.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decode %s: %v", out.String(), err)
	}
	scenario := rep["scenario"].(map[string]any)
	for _, k := range []string{"arrival", "rate_per_hour", "mrs", "ci", "ci_mean", "ci_spread", "break_probability", "flake_probability", "conflict_probability", "max_parallel", "retries", "batch_size", "min_window", "horizon", "seed", "urgent_fraction", "urgent_as", "lanes", "cross_lane", "lane_conflict"} {
		if _, ok := scenario[k]; !ok {
			t.Errorf("scenario has no %s", k)
		}
	}
	if scenario["ci_mean"] != "20m0s" || scenario["mrs"] != 40.0 {
		t.Errorf("scenario = %v", scenario)
	}
	bound := rep["bound"].(map[string]any)
	if len(bound) != 2 || bound["throughput_per_hour"] == nil || bound["ttm_p50_minutes"] == nil {
		t.Errorf("bound = %v", bound)
	}
	fields := []string{"name", "merged", "evicted", "broken_merged", "good_evicted", "throughput_per_hour", "ttm_p50_minutes", "ttm_p95_minutes", "ttm_p99_minutes", "pipelines_per_merged", "wasted_pipeline_minutes"}
	strategies := rep["strategies"].([]any)
	var names []string
	for _, s := range strategies {
		m := s.(map[string]any)
		if len(m) != len(fields) {
			t.Errorf("%v has %d fields, want %d", m["name"], len(m), len(fields))
		}
		for _, k := range fields {
			if _, ok := m[k]; !ok {
				t.Errorf("%v has no %s", m["name"], k)
			}
		}
		if m["merged"].(float64)+m["evicted"].(float64) != 40 || m["broken_merged"] != 0.0 {
			t.Errorf("%v: %v", m["name"], m)
		}
		names = append(names, m["name"].(string))
	}
	if want := strategyNames(); !slices.Equal(names, want) {
		t.Errorf("strategies = %v, want %v", names, want)
	}
}

// TestSimCommandUrgent: --urgent adds an "urgent" record to the planner's
// strategies only, in JSON and in a second table; a scenario file sets the
// same keys, and flags override them.
func TestSimCommandUrgent(t *testing.T) {
	out, err := runSim(t, "-o", "json", "--mrs", "40", "--break", "0.1", "--max-parallel", "5", "--urgent", "0.1", "--urgent-as", "high", "--seed", "5")
	if err != nil {
		t.Fatalf("sim: %v", err)
	}
	var rep struct {
		Scenario   map[string]any   `json:"scenario"`
		Strategies []map[string]any `json:"strategies"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if rep.Scenario["urgent_fraction"] != 0.1 || rep.Scenario["urgent_as"] != "high" {
		t.Errorf("scenario = %v", rep.Scenario)
	}
	planner := map[string]bool{} // the strategies the planner runs, which add urgent MRs with a priority
	for _, st := range sim.Strategies(sim.DefaultScenario()) {
		planner[st.Name] = st.Planner()
	}
	fields := []string{"as", "mrs", "merged", "ttm_p50_minutes", "ttm_p95_minutes", "normal_merged", "normal_ttm_p50_minutes", "normal_ttm_p95_minutes"}
	for _, m := range rep.Strategies {
		name := m["name"].(string)
		u, ok := m["urgent"].(map[string]any)
		if ok != planner[name] {
			t.Errorf("%s: urgent = %v, want one for the planner's strategies only", name, m["urgent"])
			continue
		}
		if !ok {
			continue
		}
		if len(u) != len(fields) || u["as"] != "high" || u["mrs"] != 4.0 || u["merged"].(float64)+u["normal_merged"].(float64) != m["merged"] {
			t.Errorf("%s: urgent = %v, merged %v", name, u, m["merged"])
		}
		for _, k := range fields {
			if _, ok := u[k]; !ok {
				t.Errorf("%s: urgent has no %s", name, k)
			}
		}
	}

	file := writeFile(t, "urgent.yaml", "mrs: 40\nmax_parallel: 5\nurgent_fraction: 0.1\nurgent_as: high\n")
	table, err := runSim(t, "--scenario", file, "--urgent-as", "urgent")
	if err != nil {
		t.Fatalf("sim --scenario: %v", err)
	}
	for _, want := range []string{"urgent MRs: 4 (10% of the MRs), added as urgent by the planner's strategies", "treat them as normal", "urgent merged", "normal merged"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if plain, err := runSim(t, "--mrs", "10"); err != nil || strings.Contains(plain, "urgent") {
		t.Errorf("without --urgent: %v\n%s", err, plain)
	}
	if _, err := runSim(t, "--urgent-as", "normal"); err == nil || !strings.Contains(err.Error(), "urgent_as") {
		t.Errorf("--urgent-as normal: %v, want an error naming urgent_as", err)
	}
	if _, err := runSim(t, "--urgent", "1.5"); err == nil || !strings.Contains(err.Error(), "urgent_fraction") {
		t.Errorf("--urgent 1.5: %v, want an error naming urgent_fraction", err)
	}
}

// TestSimCommandLanes: with one lane (the default) the table is byte for
// byte the one trainyard sim prints without lanes
// (internal/sim/testdata/one-train-table.txt); --lanes adds the
// trainyard-lanes strategy, in JSON with a "lanes" record of its own, and
// a table that sets it beside trainyard's one train.
func TestSimCommandLanes(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("..", "..", "internal", "sim", "testdata", "one-train-table.txt"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--mrs", "60", "--break", "0.1", "--flake", "0.02", "--ci", "normal", "--ci-spread", "5m", "--seed", "4"}
	for _, extra := range [][]string{nil, {"--lanes", "1"}, {"--lanes", "1", "--cross-lane", "0.5", "--lane-conflict", "0.2"}} {
		out, err := runSim(t, append(slices.Clone(args), extra...)...)
		if err != nil {
			t.Fatalf("sim %v: %v", extra, err)
		}
		if out != string(golden) {
			t.Errorf("sim %v differs from the table without lanes:\n%s\nwant:\n%s", extra, out, golden)
		}
	}

	out, err := runSim(t, "-o", "json", "--mrs", "40", "--break", "0.1", "--lanes", "3", "--cross-lane", "0.2", "--lane-conflict", "0.1", "--seed", "5")
	if err != nil {
		t.Fatalf("sim --lanes 3: %v", err)
	}
	var rep struct {
		Scenario   map[string]any   `json:"scenario"`
		Strategies []map[string]any `json:"strategies"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if rep.Scenario["lanes"] != 3.0 || rep.Scenario["cross_lane"] != 0.2 || rep.Scenario["lane_conflict"] != 0.1 {
		t.Errorf("scenario = %v", rep.Scenario)
	}
	var names []string
	fields := []string{"lanes", "windows", "cross_lane_mrs", "lane_pipelines", "integration_pipelines", "integrations", "interactions", "reverts"}
	for _, m := range rep.Strategies {
		name := m["name"].(string)
		names = append(names, name)
		l, ok := m["lanes"].(map[string]any)
		if ok != (name == sim.LanesStrategy) {
			t.Errorf("%s: lanes = %v, want a record for %s only", name, m["lanes"], sim.LanesStrategy)
			continue
		}
		if m["merged"].(float64)+m["evicted"].(float64) != 40 || m["broken_merged"] != 0.0 {
			t.Errorf("%s: %v", name, m)
		}
		if !ok {
			continue
		}
		if len(l) != len(fields) || l["lanes"] != 3.0 || len(l["windows"].([]any)) != 3 {
			t.Errorf("lanes record = %v", l)
		}
		for _, k := range fields {
			if _, ok := l[k]; !ok {
				t.Errorf("lanes record has no %s", k)
			}
		}
	}
	if !slices.Contains(names, sim.LanesStrategy) || len(names) != len(strategyNames())+1 {
		t.Errorf("strategies = %v", names)
	}

	file := writeFile(t, "lanes.yaml", "mrs: 40\nlanes: 4\ncross_lane: 0\n")
	table, err := runSim(t, "--scenario", file, "--lanes", "2")
	if err != nil {
		t.Fatalf("sim --scenario: %v", err)
	}
	for _, want := range []string{"lanes: 2 (windows 10 9, and 1 pipeline for integration), 0 cross-lane MRs", "vs trainyard", sim.LanesStrategy} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	shared, err := runSim(t, "--scenario", file, "--lane-pool", "shared")
	if err != nil {
		t.Fatalf("sim --lane-pool shared: %v", err)
	}
	if want := "lanes: 4 (a shared pool of 20 pipelines, 1 kept for integration; at most "; !strings.Contains(shared, want) {
		t.Errorf("table lacks %q:\n%s", want, shared)
	}
	poolFile := writeFile(t, "pool.yaml", "mrs: 40\nlanes: 2\nlane_pool: shared\n")
	out, err = runSim(t, "-o", "json", "--scenario", poolFile)
	if err != nil {
		t.Fatalf("sim lane_pool shared: %v", err)
	}
	var pooled struct {
		Scenario   map[string]any `json:"scenario"`
		Strategies []struct {
			Name  string `json:"name"`
			Lanes *struct {
				Pool string `json:"pool"`
				Peak int    `json:"peak_pipelines"`
			} `json:"lanes"`
		} `json:"strategies"`
	}
	if err := json.Unmarshal([]byte(out), &pooled); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if pooled.Scenario["lane_pool"] != "shared" {
		t.Errorf("scenario = %v, want lane_pool shared", pooled.Scenario)
	}
	for _, st := range pooled.Strategies {
		if st.Name == sim.LanesStrategy && (st.Lanes == nil || st.Lanes.Pool != "shared" || st.Lanes.Peak < 1 || st.Lanes.Peak > 20) {
			t.Errorf("%s lanes = %+v, want a shared pool of at most 20", st.Name, st.Lanes)
		}
	}
	for flag, field := range map[string]string{"--lanes=0": "lanes", "--cross-lane=1.5": "cross_lane", "--lane-conflict=1": "lane_conflict", "--lane-pool=wide": "lane_pool"} {
		if _, err := runSim(t, flag); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want an error naming %s", flag, err, field)
		}
	}
}

func TestSimCommandTableAndErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	root := newRootCommand(&out, &errOut)
	root.SetArgs([]string{"sim", "--mrs", "10", "--break", "0"})
	if err := root.Execute(); err != nil {
		t.Fatalf("sim: %v", err)
	}
	for _, want := range append(strategyNames(), "bound", "vs gitlab") {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	root = newRootCommand(&out, &errOut)
	root.SetArgs([]string{"sim", "--break", "2"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "break_probability") {
		t.Errorf("err = %v, want one naming break_probability", err)
	}
}

// smallGrid is two points of 30 MRs: one backlog, one at half load.
const smallGrid = `base:
  mrs: 30
  batch_size: 4
  seed: 2
axes:
  windows: [4]
  break_probabilities: [0.1]
  arrivals:
    - {name: backlog, arrival: backlog}
    - {name: half-load, arrival: poisson, load: 0.5}
`

func writeGrid(t *testing.T, body string) string {
	t.Helper()
	return writeFile(t, "grid.yaml", body)
}

func runSim(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCommand(&out, &errOut)
	root.SetArgs(append([]string{"sim"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestSimGridJSON(t *testing.T) {
	out, err := runSim(t, "--grid", writeGrid(t, smallGrid), "-o", "json", "--seed", "9")
	if err != nil {
		t.Fatalf("sim --grid: %v", err)
	}
	var rep struct {
		Strategies []string `json:"strategies"`
		Peers      []string `json:"peers"`
		Points     []struct {
			Arrival  string         `json:"arrival"`
			Scenario map[string]any `json:"scenario"`
			VsGitLab map[string]any `json:"vs_gitlab"`
			VsPeer   map[string]any `json:"vs_best_peer"`
			Behind   []string       `json:"behind"`
		} `json:"points"`
		Summary struct {
			Points   int                       `json:"points"`
			VsGitLab map[string]map[string]any `json:"vs_gitlab"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if !slices.Equal(rep.Strategies, strategyNames()) || len(rep.Peers) == 0 || slices.Contains(rep.Peers, "trainyard") {
		t.Errorf("strategies %v, peers %v", rep.Strategies, rep.Peers)
	}
	if len(rep.Points) != 2 || rep.Summary.Points != 2 || rep.Points[0].Arrival != "backlog" || rep.Points[1].Arrival != "half-load" {
		t.Fatalf("points = %+v", rep.Points)
	}
	for _, p := range rep.Points {
		if p.Scenario["seed"] != 9.0 || p.Scenario["max_parallel"] != 4.0 {
			t.Errorf("%s scenario = %v, want seed 9 from --seed and max_parallel 4", p.Arrival, p.Scenario)
		}
		if len(p.VsGitLab) != 5 || len(p.VsPeer) != 5 || p.Behind == nil {
			t.Errorf("%s: vs_gitlab %v, vs_best_peer %v, behind %v", p.Arrival, p.VsGitLab, p.VsPeer, p.Behind)
		}
	}
	if rate := rep.Points[1].Scenario["rate_per_hour"].(float64); !(rate > 0) {
		t.Errorf("half-load rate = %v, want the load's rate", rate)
	}
	if tp := rep.Summary.VsGitLab["throughput"]; tp["min"] == nil || tp["median"] == nil {
		t.Errorf("summary throughput = %v", tp)
	}
}

func TestSimGridTable(t *testing.T) {
	out, err := runSim(t, "--grid", writeGrid(t, smallGrid))
	if err != nil {
		t.Fatalf("sim --grid: %v", err)
	}
	for _, want := range []string{"thr/gl", "pipes/peer", "backlog", "half-load", "over 2 points", "vs gitlab min", "median", "trainyard behind at "} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestSimGridErrors(t *testing.T) {
	grid := writeGrid(t, smallGrid)
	_, err := runSim(t, "--grid", grid, "--break", "0.2")
	if exitCode(err) != exitUsage || err == nil || !strings.Contains(err.Error(), "--break") {
		t.Errorf("--grid with --break: %v (exit %d), want a usage error naming --break", err, exitCode(err))
	}
	_, err = runSim(t, "--grid", writeGrid(t, "axes:\n  windows: [4]\n  flake_probabilites: [0.01]\n"))
	if !errors.Is(err, sim.ErrInvalidGrid) || !strings.Contains(err.Error(), "line 3: axes.flake_probabilites: unknown field") {
		t.Errorf("misspelt axis: %v", err)
	}
	_, err = runSim(t, "--grid", filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
