package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"gopkg.in/yaml.v3"
)

// The grid compares one strategy, trainyard unless the file names another
// (Grid.Subject), with GitLab's merge trains and with the best of the peer
// merge queues over a cartesian product of
// scenarios, so that a claim made on the few scenarios of
// docs/simulation.md can be checked across windows, failure rates, CI
// shapes and load.
const (
	gridSubject  = "trainyard"
	gridBaseline = "gitlab"
)

// ErrInvalidGrid is wrapped by every grid file error that is not a read
// error.
var ErrInvalidGrid = errors.New("invalid grid")

// Grid is a base scenario and the axes swept over it.
type Grid struct {
	// Base holds every input no axis sets; fields it leaves out keep
	// DefaultScenario's values.
	Base Scenario `json:"base" yaml:"base"`
	Axes GridAxes `json:"axes" yaml:"axes"`
	// Subject is the planner configuration compared with gitlab and the
	// peers: trainyard (the default) or another of the planner's own
	// strategies, such as trainyard-bisect.
	Subject string `json:"subject,omitempty" yaml:"subject"`

	// lines maps a field's path ("axes.windows[2]") to its line in the
	// file, so that a value found wrong after decoding can be pointed at.
	lines map[string]int
}

// GridAxes are the values swept. An empty axis keeps the base scenario's
// value.
type GridAxes struct {
	// Windows sets max_parallel: gitlab's window and trainyard's, and the
	// peers' parallel builds.
	Windows            []int         `json:"windows" yaml:"windows"`
	BreakProbabilities []float64     `json:"break_probabilities" yaml:"break_probabilities"`
	FlakeProbabilities []float64     `json:"flake_probabilities" yaml:"flake_probabilities"`
	CIShapes           []CIShape     `json:"ci_shapes" yaml:"ci_shapes"`
	Arrivals           []ArrivalMode `json:"arrivals" yaml:"arrivals"`
}

// CIShape is a pipeline duration distribution around the base ci_mean.
type CIShape struct {
	// CI is fixed, normal or lognormal.
	CI string `json:"ci" yaml:"ci"`
	// Spread is the standard deviation as a fraction of ci_mean, so that
	// one shape means the same thing whatever the mean.
	Spread float64 `json:"spread" yaml:"spread"`
}

// maxNormalSpread bounds a normal shape's spread: at half the mean, 2.3%
// of draws already fall below zero and are clamped to minCI, which skews
// the mean; further out the shape is no longer the one named.
const maxNormalSpread = 0.5

// ArrivalMode is how the MRs of a point arrive.
type ArrivalMode struct {
	// Name labels the mode in the output ("backlog", "half-load").
	Name string `json:"name" yaml:"name"`
	// Arrival is backlog or poisson.
	Arrival string `json:"arrival" yaml:"arrival"`
	// MRs is the number of MRs; zero keeps the base's.
	MRs int `json:"mrs" yaml:"mrs"`
	// RatePerHour is a poisson rate fixed for every point.
	RatePerHour float64 `json:"rate_per_hour,omitempty" yaml:"rate_per_hour"`
	// Load sets a poisson rate relative to the point instead: the fraction
	// of the throughput gitlab reaches on a backlog of the same MRs at the
	// same window, failure rates and CI. configs/sim/half-load.yaml is
	// load 0.5 at one point; a fixed rate would overload a small window at
	// p = 0.30 and idle a window of 100 at p = 0.01, so a sweep needs the
	// relative form to mean half load everywhere.
	Load float64 `json:"load,omitempty" yaml:"load"`
}

func (c CIShape) label() string {
	if c.CI == DurationFixed {
		return c.CI
	}
	return c.CI + " " + strconv.FormatFloat(c.Spread, 'g', -1, 64)
}

// LoadGrid reads a grid file. Unknown fields, fields set twice, values of
// the wrong type and values out of range are errors that name the field
// and its line.
func LoadGrid(path string) (Grid, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Grid{}, fmt.Errorf("read grid %s: %w", path, err)
	}
	g, err := ParseGrid(b)
	if err != nil {
		return Grid{}, fmt.Errorf("grid %s: %w", path, err)
	}
	return g, nil
}

// ParseGrid decodes and validates a grid.
func ParseGrid(data []byte) (Grid, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Grid{}, fmt.Errorf("%w: the file holds no grid", ErrInvalidGrid)
		}
		return Grid{}, fmt.Errorf("%w: %w", ErrInvalidGrid, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Grid{}, fmt.Errorf("%w: the file holds more than one YAML document", ErrInvalidGrid)
	}
	g := Grid{Base: DefaultScenario(), lines: map[string]int{}}
	d := &strictDecoder{lines: g.lines}
	if err := d.decode(&doc, reflect.ValueOf(&g).Elem(), ""); err != nil {
		return Grid{}, err
	}
	if _, err := g.Points(); err != nil {
		return Grid{}, err
	}
	return g, nil
}

// subject is the strategy compared: Subject, or trainyard.
func (g Grid) subject() string {
	if g.Subject == "" {
		return gridSubject
	}
	return g.Subject
}

// checkSubject refuses a subject that is not one of the planner's own
// strategies, or is the baseline it would be compared with.
func (g Grid) checkSubject() error {
	var names []string
	for _, st := range Strategies(g.Base) {
		if st.Planner() && st.Name != gridBaseline && st.Name != LanesStrategy {
			names = append(names, st.Name)
		}
	}
	if !slices.Contains(names, g.subject()) {
		return g.fieldError("subject", "must be one of %s, got %q", strings.Join(names, ", "), g.Subject)
	}
	return nil
}

// strictDecoder decodes a yaml.Node tree into tagged structs as yaml.v3
// does with KnownFields, but every error names the field's path and line:
// yaml.v3's own errors give the line without the field for a wrong type,
// and neither for a value its UnmarshalYAML refuses (a bad duration).
type strictDecoder struct {
	lines  map[string]int
	visits int
}

// maxGridNodes bounds the nodes visited, aliases followed included, so a
// small file of nested aliases cannot expand without end.
const maxGridNodes = 100_000

func (d *strictDecoder) decode(n *yaml.Node, v reflect.Value, path string) error {
	if d.visits++; d.visits > maxGridNodes {
		return gridError(n.Line, path, "too many nodes (aliases nested too deep?)")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return d.decode(n.Content[0], v, path)
	case yaml.AliasNode:
		return d.decode(n.Alias, v, path)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // an empty value keeps what the field holds, as yaml.v3 does for structs
	}
	if _, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
		return d.scalar(n, v, path)
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return gridError(n.Line, path, "want a mapping of fields")
		}
		fields := map[string]int{}
		for i := range v.NumField() {
			if tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
				fields[tag] = i
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			sub := joinPath(path, k.Value)
			idx, ok := fields[k.Value]
			switch {
			case !ok:
				return gridError(k.Line, sub, "unknown field")
			case seen[k.Value]:
				return gridError(k.Line, sub, "set twice")
			}
			seen[k.Value] = true
			d.lines[sub] = k.Line
			if err := d.decode(val, v.Field(idx), sub); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return gridError(n.Line, path, "want a list")
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			sub := fmt.Sprintf("%s[%d]", path, i)
			d.lines[sub] = e.Line
			if err := d.decode(e, s.Index(i), sub); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	return d.scalar(n, v, path)
}

func (d *strictDecoder) scalar(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.ScalarNode {
		return gridError(n.Line, path, "want a single value")
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			// "line 4: cannot unmarshal ...": the line is given separately.
			_, msg, _ := strings.Cut(te.Errors[0], ": ")
			return gridError(n.Line, path, "%s", msg)
		}
		return gridError(n.Line, path, "%v", err)
	}
	return nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func gridError(line int, path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		return fmt.Errorf("%w: line %d: %s: %s", ErrInvalidGrid, line, path, msg)
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalidGrid, path, msg)
}

// fieldError names path and, when the file sets it, its line.
func (g Grid) fieldError(path, format string, args ...any) error {
	return gridError(g.lines[path], path, format, args...)
}

// GridPoint is one scenario of the grid: the axis values that made it, the
// scenario run and every strategy's result, and trainyard's ratios.
type GridPoint struct {
	Window           int     `json:"window"`
	BreakProbability float64 `json:"break_probability"`
	FlakeProbability float64 `json:"flake_probability"`
	// CI labels the shape: "fixed", or the distribution and its spread as
	// a fraction of the mean ("lognormal 0.5").
	CI string `json:"ci"`
	// Arrival is the arrival mode's name.
	Arrival string `json:"arrival"`
	// Scenario is what was run; with a load, its rate_per_hour is the
	// rate that load gave.
	Scenario Scenario `json:"scenario"`
	Results  []Result `json:"results"`
	// BestPeer names, for each metric, the peer whose value is compared
	// ("" when none qualifies).
	BestPeer ByMetric[string] `json:"best_peer"`
	// LeftOut are the peers that merged fewer than minPeerMergedShare of
	// the good MRs, left out of the best peer for every metric but good
	// MRs evicted.
	LeftOut    []string        `json:"left_out"`
	VsGitLab   ByMetric[Ratio] `json:"vs_gitlab"`
	VsBestPeer ByMetric[Ratio] `json:"vs_best_peer"`
	// Behind lists the ways trainyard is behind at this point (Behind*).
	Behind []string `json:"behind"`

	load     float64
	axisPath map[string]string // scenario field → the axis entry that set it
	subject  string            // the strategy compared
}

// Label names the point in tables and errors.
func (p GridPoint) Label() string {
	return fmt.Sprintf("%s %s w=%d p=%g flake=%g", p.Arrival, p.CI, p.Window, p.BreakProbability, p.FlakeProbability)
}

// minPeerMergedShare is the share of the good MRs a peer must merge to
// compete on throughput, pipelines per merged and time to merge. A peer
// that drops good MRs looks fast by those: GitHub's queue without
// bisection evicts every failed group whole, and at p = 0.30 it merges 8
// of 208 good MRs in its first half hour, "16 merged per hour", then
// evicts the rest. It still counts for good MRs evicted, where the
// dropping shows.
const minPeerMergedShare = 0.9

// Ways trainyard can be behind at a point.
const (
	BehindThroughputVsGitLab         = "throughput_vs_gitlab"           // fewer merged per hour than gitlab
	BehindThroughputVsBestPeer       = "throughput_vs_best_peer"        // fewer merged per hour than the best peer
	BehindPipelinesPerMergedVsGitLab = "pipelines_per_merged_vs_gitlab" // more pipelines per merged MR than gitlab
	BehindGoodEvictedVsBestPeer      = "good_evicted_vs_best_peer"      // more good MRs evicted than the best peer
)

// ByMetric holds one value per compared metric.
type ByMetric[T any] struct {
	Throughput         T `json:"throughput"`
	PipelinesPerMerged T `json:"pipelines_per_merged"`
	GoodEvicted        T `json:"good_evicted"`
	TTMP50             T `json:"ttm_p50"`
	TTMP95             T `json:"ttm_p95"`
}

// Ratio is trainyard's value over another's. It is NaN when either side
// has no value (a strategy that merged nothing has no time to merge nor
// pipelines per merged), +Inf when only the other's is zero, and 1 when
// both are zero: two strategies that evicted no good MR are level.
type Ratio float64

// MarshalJSON writes NaN and ±Inf, which JSON has no numbers for, as null.
func (r Ratio) MarshalJSON() ([]byte, error) {
	f := float64(r)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads null back as NaN.
func (r *Ratio) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = Ratio(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("ratio: %w", err)
	}
	*r = Ratio(f)
	return nil
}

func (r Ratio) String() string {
	f := float64(r)
	switch {
	case math.IsNaN(f):
		return "-"
	case math.IsInf(f, 1):
		return "inf"
	}
	return strconv.FormatFloat(f, 'f', 3, 64)
}

// gridMetric is one compared metric.
type gridMetric struct {
	name string
	// higher is better for throughput only.
	higherBetter bool
	// perMerge metrics have no value for a strategy that merged nothing.
	perMerge bool
	// allPeers compares with every peer, those in LeftOut too: good MRs
	// evicted is where their dropping shows.
	allPeers bool
	value    func(Result) float64
}

func gridMetrics() []gridMetric {
	return []gridMetric{
		{"throughput", true, false, false,
			func(r Result) float64 { return r.ThroughputPerHour }},
		{"pipelines_per_merged", false, true, false,
			func(r Result) float64 { return r.PipelinesPerMerged }},
		{"good_evicted", false, false, true,
			func(r Result) float64 { return float64(r.GoodEvicted) }},
		{"ttm_p50", false, true, false,
			func(r Result) float64 { return r.TTMP50Minutes }},
		{"ttm_p95", false, true, false,
			func(r Result) float64 { return r.TTMP95Minutes }},
	}
}

// pick returns the ByMetric field of the metric at index i.
func pick[T any](m *ByMetric[T], i int) *T {
	return [...]*T{&m.Throughput, &m.PipelinesPerMerged, &m.GoodEvicted, &m.TTMP50, &m.TTMP95}[i]
}

func (m gridMetric) of(r Result) float64 {
	if m.perMerge && r.Merged == 0 {
		return math.NaN()
	}
	return m.value(r)
}

// ratioOf is a over b, as Ratio documents.
func ratioOf(a, b float64) Ratio {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return Ratio(math.NaN())
	case b == 0 && a == 0:
		return 1
	case b == 0:
		return Ratio(math.Inf(1))
	}
	return Ratio(a / b)
}

// Points expands the grid, arrival mode outermost, then CI shape, window,
// break and flake probability, and validates every scenario. A load's rate
// is known only once the point runs.
func (g Grid) Points() ([]GridPoint, error) {
	if err := g.checkSubject(); err != nil {
		return nil, err
	}
	if err := g.checkAxes(); err != nil {
		return nil, err
	}
	arrivals := g.Axes.Arrivals
	if len(arrivals) == 0 {
		arrivals = []ArrivalMode{{Name: g.Base.Arrival, Arrival: g.Base.Arrival, RatePerHour: g.Base.RatePerHour}}
	}
	shapes := g.Axes.CIShapes
	if len(shapes) == 0 {
		shapes = []CIShape{{CI: g.Base.CI, Spread: float64(g.Base.CISpread) / float64(g.Base.CIMean)}}
	}
	windows := orBase(g.Axes.Windows, g.Base.MaxParallel)
	breaks := orBase(g.Axes.BreakProbabilities, g.Base.BreakProbability)
	flakes := orBase(g.Axes.FlakeProbabilities, g.Base.FlakeProbability)
	var pts []GridPoint
	for ai, a := range arrivals {
		for ci, c := range shapes {
			for wi, w := range windows {
				for bi, p := range breaks {
					for fi, f := range flakes {
						s := g.Base
						s.MaxParallel, s.BreakProbability, s.FlakeProbability = w, p, f
						s.CI = c.CI
						s.CISpread = Duration(math.Round(c.Spread * float64(s.CIMean)))
						s.Arrival, s.RatePerHour = a.Arrival, a.RatePerHour
						if a.MRs != 0 {
							s.MRs = a.MRs
						}
						pt := GridPoint{
							Window: w, BreakProbability: p, FlakeProbability: f, CI: c.label(), Arrival: a.Name,
							Scenario: s, load: a.Load, axisPath: map[string]string{}, subject: g.subject(),
						}
						g.recordAxes(pt.axisPath, ai, ci, wi, bi, fi)
						if err := g.validatePoint(pt); err != nil {
							return nil, err
						}
						pts = append(pts, pt)
					}
				}
			}
		}
	}
	return pts, nil
}

func orBase[T any](axis []T, base T) []T {
	if len(axis) == 0 {
		return []T{base}
	}
	return axis
}

// recordAxes notes which axis entry set each scenario field of a point, so
// that a scenario error names the entry rather than the base.
func (g Grid) recordAxes(paths map[string]string, ai, ci, wi, bi, fi int) {
	set := func(axis string, n, i int, fields ...string) {
		if n > 0 {
			for _, f := range fields {
				paths[f] = fmt.Sprintf("axes.%s[%d]", axis, i)
			}
		}
	}
	set("arrivals", len(g.Axes.Arrivals), ai, "arrival", "rate_per_hour", "mrs", "horizon")
	set("ci_shapes", len(g.Axes.CIShapes), ci, "ci", "ci_spread")
	set("windows", len(g.Axes.Windows), wi, "max_parallel", "min_window")
	set("break_probabilities", len(g.Axes.BreakProbabilities), bi, "break_probability")
	set("flake_probabilities", len(g.Axes.FlakeProbabilities), fi, "flake_probability")
}

// validatePoint runs Scenario.Validate and points its error at the axis
// entry or base field that set the field it names.
func (g Grid) validatePoint(pt GridPoint) error {
	s := pt.Scenario
	if pt.load > 0 {
		s.RatePerHour = 1 // a placeholder: the load sets the rate when the point runs
	}
	err := s.Validate()
	if err == nil {
		return nil
	}
	field, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), ErrInvalidScenario.Error()+": "), ":")
	path, ok := pt.axisPath[field]
	if !ok {
		path = "base." + field
	}
	return g.fieldError(path, "at %s: %v", pt.Label(), err)
}

// checkAxes refuses what Scenario.Validate cannot see: repeated values,
// which would run the same point twice, and arrival and CI entries that
// say two things at once.
func (g Grid) checkAxes() error {
	if err := noRepeats(g, "axes.windows", g.Axes.Windows); err != nil {
		return err
	}
	if err := noRepeats(g, "axes.break_probabilities", g.Axes.BreakProbabilities); err != nil {
		return err
	}
	if err := noRepeats(g, "axes.flake_probabilities", g.Axes.FlakeProbabilities); err != nil {
		return err
	}
	if err := noRepeats(g, "axes.ci_shapes", g.Axes.CIShapes); err != nil {
		return err
	}
	for i, c := range g.Axes.CIShapes {
		path := fmt.Sprintf("axes.ci_shapes[%d]", i)
		switch {
		case c.CI != DurationFixed && c.CI != DurationNormal && c.CI != DurationLognormal:
			return g.fieldError(path+".ci", "%q is not fixed, normal or lognormal", c.CI)
		case c.CI == DurationFixed && c.Spread != 0:
			return g.fieldError(path+".spread", "a fixed duration has no spread")
		case c.CI != DurationFixed && !(c.Spread > 0):
			return g.fieldError(path+".spread", "%v: a %s shape needs a positive spread (a fraction of ci_mean)", c.Spread, c.CI)
		case c.CI == DurationNormal && c.Spread > maxNormalSpread:
			return g.fieldError(path+".spread", "%v: a normal shape's spread is at most %v of the mean", c.Spread, maxNormalSpread)
		}
	}
	names := map[string]bool{}
	for i, a := range g.Axes.Arrivals {
		path := fmt.Sprintf("axes.arrivals[%d]", i)
		mrs := a.MRs
		if mrs == 0 {
			mrs = g.Base.MRs
		}
		switch {
		case a.Name == "":
			return g.fieldError(path, "needs a name")
		case names[a.Name]:
			return g.fieldError(path+".name", "%q is used twice", a.Name)
		case a.Arrival != ArrivalBacklog && a.Arrival != ArrivalPoisson:
			return g.fieldError(path+".arrival", "%q is not backlog or poisson", a.Arrival)
		case a.MRs < 0:
			return g.fieldError(path+".mrs", "must not be negative")
		case a.Arrival == ArrivalBacklog && (a.RatePerHour != 0 || a.Load != 0):
			return g.fieldError(path, "a backlog takes neither rate_per_hour nor load")
		case a.Arrival == ArrivalPoisson && (a.RatePerHour > 0) == (a.Load > 0):
			return g.fieldError(path, "poisson arrivals take one of rate_per_hour and load, positive")
		case a.RatePerHour < 0 || a.Load < 0 || math.IsNaN(a.Load) || math.IsNaN(a.RatePerHour):
			return g.fieldError(path, "rate_per_hour and load must be positive")
		case a.Load > 0 && mrs == 0:
			return g.fieldError(path+".mrs", "a load is relative to a backlog of mrs MRs: set mrs")
		}
		names[a.Name] = true
	}
	return nil
}

func noRepeats[T comparable](g Grid, path string, vs []T) error {
	for i, v := range vs {
		if slices.Index(vs, v) < i {
			return g.fieldError(fmt.Sprintf("%s[%d]", path, i), "%v is listed twice", v)
		}
	}
	return nil
}

// GridReport is a grid's outcome, points in the order of Grid.Points.
type GridReport struct {
	// Strategies are the strategies run at every point; Peers, those of
	// them that are peer merge queues (run by peer.go's line engine
	// rather than the planner), among which the best is chosen.
	Strategies []string `json:"strategies"`
	Peers      []string `json:"peers"`
	// Subject is the strategy compared (trainyard unless the file says).
	Subject string      `json:"subject"`
	Points  []GridPoint `json:"points"`
	Summary GridSummary `json:"summary"`
}

// GridSummary gathers each ratio over the grid.
type GridSummary struct {
	Points     int                  `json:"points"`
	VsGitLab   ByMetric[RatioStats] `json:"vs_gitlab"`
	VsBestPeer ByMetric[RatioStats] `json:"vs_best_peer"`
	// Behind holds the indices into points where trainyard is behind in
	// any way; BehindCounts counts the points per way.
	Behind       []int          `json:"behind"`
	BehindCounts map[string]int `json:"behind_counts"`
}

// RatioStats are a ratio's minimum and median over the points where it has
// a value; MinAt is the index of the first point at the minimum (-1 when
// no point has a value).
type RatioStats struct {
	Min    Ratio `json:"min"`
	Median Ratio `json:"median"`
	MinAt  int   `json:"min_at"`
}

// RunGrid runs every point of the grid, as many at once as GOMAXPROCS
// allows, each with every strategy on the same MRs. The first error stops
// the rest.
func RunGrid(ctx context.Context, g Grid) (GridReport, error) {
	pts, err := g.Points()
	if err != nil {
		return GridReport{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(pts)) {
		wg.Go(func() {
			for i := range next {
				if err := runPoint(ctx, &pts[i]); err != nil {
					cancel(fmt.Errorf("grid point %d (%s): %w", i, pts[i].Label(), err))
				}
			}
		})
	}
feed:
	for i := range pts {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return GridReport{}, err
	}
	rep := GridReport{Points: pts, Summary: summarize(pts), Subject: g.subject()}
	if len(pts) > 0 {
		for _, st := range Strategies(pts[0].Scenario) {
			rep.Strategies = append(rep.Strategies, st.Name)
			if isPeer(st) {
				rep.Peers = append(rep.Peers, st.Name)
			}
		}
	}
	return rep, nil
}

// isPeer tells a peer merge queue from the planner's own configurations
// (serial, gitlab, trainyard, thrift): the peers are the strategies
// modelled from another product's documentation, which peer.go's line
// engine runs. Deciding by that rather than by name keeps a peer added
// to Strategies a peer here without a change.
func isPeer(st Strategy) bool { return st.line != nil }

// runPoint fills pt's results and ratios.
func runPoint(ctx context.Context, pt *GridPoint) error {
	s := pt.Scenario
	if pt.load > 0 {
		rate, err := saturatedRate(ctx, s)
		if err != nil {
			return err
		}
		s.RatePerHour = pt.load * rate
		pt.Scenario = s
	}
	if err := s.Validate(); err != nil {
		return err
	}
	pop := newPopulation(s)
	good := 0
	for _, m := range pop.mrs {
		if !m.broken {
			good++
		}
	}
	var sts []Strategy
	for _, st := range Strategies(s) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("before %s: %w", st.Name, err)
		}
		res, err := simulate(s, pop, st)
		if err != nil {
			return err
		}
		pt.Results = append(pt.Results, res)
		sts = append(sts, st)
	}
	return pt.compare(sts, good)
}

// saturatedRate is gitlab's throughput on a backlog of the point's MRs:
// what a load is a fraction of.
func saturatedRate(ctx context.Context, s Scenario) (float64, error) {
	s.Arrival, s.RatePerHour = ArrivalBacklog, 0
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("before the load's backlog run: %w", err)
	}
	for _, st := range Strategies(s) {
		if st.Name != gridBaseline {
			continue
		}
		r, err := Simulate(s, st)
		if err != nil {
			return 0, fmt.Errorf("the load's backlog run: %w", err)
		}
		if !(r.ThroughputPerHour > 0) {
			return 0, fmt.Errorf("the load's backlog run: %s merged nothing, so no rate follows from the load", gridBaseline)
		}
		return r.ThroughputPerHour, nil
	}
	return 0, fmt.Errorf("no %s strategy to set the load's rate", gridBaseline)
}

// compare fills the ratios and Behind from the results of sts.
func (pt *GridPoint) compare(sts []Strategy, good int) error {
	var subject, baseline *Result
	for i := range pt.Results {
		switch pt.Results[i].Name {
		case pt.subject:
			subject = &pt.Results[i]
		case gridBaseline:
			baseline = &pt.Results[i]
		}
	}
	if subject == nil || baseline == nil {
		return fmt.Errorf("the strategies lack %s or %s", pt.subject, gridBaseline)
	}
	pt.LeftOut = []string{}
	for j, st := range sts {
		if isPeer(st) && float64(pt.Results[j].Merged) < minPeerMergedShare*float64(good) {
			pt.LeftOut = append(pt.LeftOut, st.Name)
		}
	}
	var best ByMetric[float64]
	for i, m := range gridMetrics() {
		b := pick(&best, i)
		*b = math.NaN()
		for j, st := range sts {
			v := m.of(pt.Results[j])
			if !isPeer(st) || math.IsNaN(v) || (!m.allPeers && slices.Contains(pt.LeftOut, st.Name)) {
				continue
			}
			if *pick(&pt.BestPeer, i) == "" || (m.higherBetter && v > *b) || (!m.higherBetter && v < *b) {
				*b, *pick(&pt.BestPeer, i) = v, st.Name
			}
		}
		mine := m.of(*subject)
		*pick(&pt.VsGitLab, i) = ratioOf(mine, m.of(*baseline))
		*pick(&pt.VsBestPeer, i) = ratioOf(mine, *b)
	}
	// Raw values rather than ratios decide, since a ratio of 0 to 0 is 1;
	// a comparison with NaN (nothing to compare with) is false.
	pt.Behind = []string{}
	if subject.ThroughputPerHour < baseline.ThroughputPerHour {
		pt.Behind = append(pt.Behind, BehindThroughputVsGitLab)
	}
	if subject.ThroughputPerHour < best.Throughput {
		pt.Behind = append(pt.Behind, BehindThroughputVsBestPeer)
	}
	if subject.Merged > 0 && baseline.Merged > 0 && subject.PipelinesPerMerged > baseline.PipelinesPerMerged {
		pt.Behind = append(pt.Behind, BehindPipelinesPerMergedVsGitLab)
	}
	if float64(subject.GoodEvicted) > best.GoodEvicted {
		pt.Behind = append(pt.Behind, BehindGoodEvictedVsBestPeer)
	}
	return nil
}

func summarize(pts []GridPoint) GridSummary {
	sum := GridSummary{Points: len(pts), Behind: []int{}, BehindCounts: map[string]int{
		BehindThroughputVsGitLab: 0, BehindThroughputVsBestPeer: 0,
		BehindPipelinesPerMergedVsGitLab: 0, BehindGoodEvictedVsBestPeer: 0,
	}}
	for i := range gridMetrics() {
		*pick(&sum.VsGitLab, i) = ratioStats(pts, func(p *GridPoint) Ratio { return *pick(&p.VsGitLab, i) })
		*pick(&sum.VsBestPeer, i) = ratioStats(pts, func(p *GridPoint) Ratio { return *pick(&p.VsBestPeer, i) })
	}
	for i, p := range pts {
		if len(p.Behind) > 0 {
			sum.Behind = append(sum.Behind, i)
		}
		for _, b := range p.Behind {
			sum.BehindCounts[b]++
		}
	}
	return sum
}

// ratioStats is the minimum and median of a ratio over the points where it
// has a value; +Inf counts, as the largest.
func ratioStats(pts []GridPoint, get func(*GridPoint) Ratio) RatioStats {
	st := RatioStats{Min: Ratio(math.NaN()), Median: Ratio(math.NaN()), MinAt: -1}
	var vs []float64
	for i := range pts {
		v := float64(get(&pts[i]))
		if math.IsNaN(v) {
			continue
		}
		if st.MinAt < 0 || v < float64(st.Min) {
			st.Min, st.MinAt = Ratio(v), i
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return st
	}
	slices.Sort(vs)
	mid := len(vs) / 2
	if len(vs)%2 == 1 {
		st.Median = Ratio(vs[mid])
	} else {
		st.Median = Ratio((vs[mid-1] + vs[mid]) / 2)
	}
	return st
}

// behindCode is the table's short form of a Behind* value.
func behindCode(b string) string {
	switch b {
	case BehindThroughputVsGitLab:
		return "thr<gitlab"
	case BehindThroughputVsBestPeer:
		return "thr<peer"
	case BehindPipelinesPerMergedVsGitLab:
		return "pipes>gitlab"
	case BehindGoodEvictedVsBestPeer:
		return "good-evicted>peer"
	}
	return b
}

// subject is the strategy compared; a report decoded from before it was
// named compared trainyard.
func (r GridReport) subject() string {
	if r.Subject == "" {
		return gridSubject
	}
	return r.Subject
}

// WriteGridTable writes one row of ratios per point, then each ratio's
// minimum and median, then the points where trainyard is behind.
func WriteGridTable(out io.Writer, rep GridReport) error {
	fmt.Fprintf(out, "%s over gitlab (/gl) and over the best peer (/peer: best of %s, per metric)\n", rep.subject(), strings.Join(rep.Peers, ", "))
	fmt.Fprintf(out, "strategies run at each point: %s\n", strings.Join(rep.Strategies, ", "))
	fmt.Fprintln(out, "throughput above 1 is better; pipelines per merged, good MRs evicted and time to merge, below 1")
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "arrival\tci\twindow\tp\tflake\tthr/gl\tpipes/gl\tgood-ev/gl\tp50/gl\tp95/gl\tthr/peer\tpipes/peer\tgood-ev/peer\tp50/peer\tp95/peer\tbehind")
	for _, p := range rep.Points {
		codes := make([]string, len(p.Behind))
		for i, b := range p.Behind {
			codes[i] = behindCode(b)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%g\t%g", p.Arrival, p.CI, p.Window, p.BreakProbability, p.FlakeProbability)
		for _, m := range []ByMetric[Ratio]{p.VsGitLab, p.VsBestPeer} {
			for i := range gridMetrics() {
				fmt.Fprintf(tw, "\t%s", *pick(&m, i))
			}
		}
		fmt.Fprintf(tw, "\t%s\n", strings.Join(codes, ","))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write grid table: %w", err)
	}
	fmt.Fprintf(out, "\nover %d points\n", rep.Summary.Points)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ratio\tvs gitlab min\tmedian\tmin at\tvs best peer min\tmedian\tmin at")
	for i, m := range gridMetrics() {
		g, b := *pick(&rep.Summary.VsGitLab, i), *pick(&rep.Summary.VsBestPeer, i)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.name, g.Min, g.Median, pointName(rep, g.MinAt), b.Min, b.Median, pointName(rep, b.MinAt))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write grid summary: %w", err)
	}
	fmt.Fprintf(out, "\n%s behind at %d of %d points", rep.subject(), len(rep.Summary.Behind), rep.Summary.Points)
	for _, b := range []string{BehindThroughputVsGitLab, BehindThroughputVsBestPeer, BehindPipelinesPerMergedVsGitLab, BehindGoodEvictedVsBestPeer} {
		fmt.Fprintf(out, "; %s: %d", behindCode(b), rep.Summary.BehindCounts[b])
	}
	fmt.Fprintln(out)
	for _, i := range rep.Summary.Behind {
		p := rep.Points[i]
		codes := make([]string, len(p.Behind))
		for j, b := range p.Behind {
			codes[j] = behindCode(b)
		}
		fmt.Fprintf(out, "  %s: %s\n", p.Label(), strings.Join(codes, ", "))
	}
	return nil
}

func pointName(rep GridReport, i int) string {
	if i < 0 || i >= len(rep.Points) {
		return "-"
	}
	return rep.Points[i].Label()
}
