package metrics

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/sim"
	"github.com/trainyard/trainyard/internal/train"
)

func newMetrics(t testing.TB) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	return New(reg), reg
}

// series returns the series of name whose labels are exactly labels,
// failing the test when there is none.
func series(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			if maps.Equal(labelMap(s), labels) {
				return s
			}
		}
	}
	t.Fatalf("no %s series with labels %v", name, labels)
	return nil
}

func labelMap(s *dto.Metric) map[string]string {
	got := map[string]string{}
	for _, l := range s.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	return got
}

// histogram returns the histogram series of name whose labels are exactly
// labels, failing the test when there is none.
func histogram(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) *dto.Histogram {
	t.Helper()
	return series(t, g, name, labels).GetHistogram()
}

// gauge returns the value of the gauge series of name whose labels are
// exactly labels, failing the test when there is none.
func gauge(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	return series(t, g, name, labels).GetGauge().GetValue()
}

// constValues returns the values of the string constants of a Go file
// whose names start with prefix: the outcomes, reasons and states other
// packages declare, which the documentation and the series must cover.
func constValues(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, v)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s constants in %s", prefix, file)
	}
	return out
}

// labelValues returns the sorted values label takes in the series of name.
func labelValues(t *testing.T, g prometheus.Gatherer, name, label string) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == label {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// yard drives the real planner against a simulated forge, reporting to a
// trace in the order engine.Handle does: carry out the outbox (Acted for
// each action done), then plan every result (Observed after each).
type yard struct {
	t     *testing.T
	key   train.Key
	trace engine.Trace
	world *sim.World
	train train.Train
	now   time.Time
}

func newYard(t *testing.T, tr engine.Trace, start time.Time) *yard {
	key := train.Key{Forge: "gitlab", Project: "group/app", Branch: "main"}
	y := &yard{t: t, key: key, trace: tr, world: sim.NewWorld(), train: train.New(key, train.Settings{}), now: start}
	y.handle(train.TargetHead{SHA: y.world.Target})
	return y
}

func (y *yard) handle(obs ...train.Observation) {
	y.t.Helper()
	queue := obs
	for range 100 {
		results := y.execute()
		for _, o := range append(queue, results...) {
			var actions []train.Action
			y.train, actions = train.Plan(y.train, o, y.now)
			y.train.Outbox = append(y.train.Outbox, actions...)
			y.trace.Observed(y.key, o, y.train)
		}
		queue = nil
		if len(y.train.Outbox) == 0 {
			return
		}
	}
	y.t.Fatalf("train %s still acting after 100 rounds", y.key)
}

func (y *yard) execute() []train.Observation {
	outbox := y.train.Outbox
	y.train.Outbox = nil
	var results []train.Observation
	for _, a := range outbox {
		if !y.train.Wants(a) {
			continue
		}
		switch a := a.(type) {
		case train.BuildCar:
			results = append(results, y.world.Build(a))
		case train.StartPipeline:
			p, _ := y.world.StartPipeline(a)
			results = append(results, train.PipelineCreated{MR: a.MR, SHA: p.SHA, Pipeline: p.ID})
		case train.CancelPipeline:
			y.world.Cancel(a.Pipeline)
		case train.FastForwardTarget:
			results = append(results, y.world.FastForward(a))
		}
		y.trace.Acted(y.key, a)
	}
	return results
}

func (y *yard) add(mrs ...int64) {
	y.t.Helper()
	for _, mr := range mrs {
		y.handle(train.Added{MR: mr, HeadSHA: sim.HeadOf(mr, 0), By: "alice", Event: "add-" + sim.HeadOf(mr, 0)})
	}
}

// pipelineOf returns the running pipeline of mr's car.
func (y *yard) pipelineOf(mr int64) int64 {
	y.t.Helper()
	c := y.train.Car(mr)
	if c == nil || c.State != train.StateRunning {
		y.t.Fatalf("car !%d is not running: %+v", mr, c)
	}
	return c.Pipeline
}

// finish ends mr's pipeline and tells the train.
func (y *yard) finish(mr int64) {
	y.t.Helper()
	y.handle(y.world.Finish(y.pipelineOf(mr), false))
}

func (y *yard) states() []train.State {
	var out []train.State
	for _, c := range y.train.Cars {
		out = append(out, c.State)
	}
	return out
}

func (y *yard) wantStates(want ...train.State) {
	y.t.Helper()
	if got := y.states(); !slices.Equal(got, want) {
		y.t.Fatalf("car states = %v, want %v", got, want)
	}
}
