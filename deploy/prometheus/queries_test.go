package prometheus_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/metrics"
	"github.com/trainyard/trainyard/internal/train"
)

// dashboardFile is the Grafana dashboard whose queries are checked with
// the alert rules'.
const dashboardFile = "../grafana/trainyard.json"

// family is what a query may rely on of one exported metric.
type family struct {
	kind   dto.MetricType
	labels []string
}

// targetLabels are the labels Prometheus adds to every series it scrapes.
var targetLabels = []string{"job", "instance"}

// exported is every Trainyard metric the service exports, with its labels,
// gathered from the registry internal/metrics builds once every part has
// reported through it.
func exported(t *testing.T) map[string]family {
	t.Helper()
	reg := metrics.NewRegistry()
	m := metrics.New(reg)
	key := train.Key{Forge: "gitlab", Project: "group/app", Branch: "main"}
	if err := metrics.WatchTrains(reg, func(context.Context) ([]train.Train, error) {
		return []train.Train{{Key: key}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := metrics.WatchDeadLetters(reg, func(context.Context) (int64, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	m.InitTrain(key)
	m.WebhookCounter().Count("gitlab", "Note Hook", "queued")
	m.NotifyCounter().Count("releases", "merged", "sent")
	m.ObserveEvent(event.Event{Kind: event.KindMR}, "handled", time.Second)
	m.ObserveSweep(time.Second)
	m.Panicked("event")
	answer := roundTripper(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	})
	resp, err := m.ForgeTransport("gitlab", func(r *http.Request) string { return r.Method + " " + r.URL.Path }, answer).
		RoundTrip(httptest.NewRequest(http.MethodGet, "https://gitlab.example/api/v4/version", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hook := m.RedisHook().ProcessHook(func(context.Context, redis.Cmder) error { return errors.New("connection refused") })
	_ = hook(context.Background(), redis.NewStringCmd(context.Background(), "get", "k"))

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]family{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "trainyard_") {
			continue
		}
		f := family{kind: mf.GetType()}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if !slices.Contains(f.labels, l.GetName()) {
					f.labels = append(f.labels, l.GetName())
				}
			}
		}
		out[mf.GetName()] = f
	}
	return out
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// lookup resolves a metric name as a query writes it: the metric, or one
// of the series a histogram is exposed as.
func lookup(fams map[string]family, name string) (family, bool) {
	if f, ok := fams[name]; ok {
		return f, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := fams[base]; ok && f.kind == dto.MetricType_HISTOGRAM {
				if suffix == "_bucket" {
					f.labels = append(slices.Clone(f.labels), "le")
				}
				return f, true
			}
		}
	}
	return family{}, false
}

// A query to check: where it comes from, its PromQL and, for a panel,
// the legend that names its series.
type query struct {
	where, expr, legend string
}

var (
	metricName  = regexp.MustCompile(`\btrainyard_[a-z0-9_]+`)
	selector    = regexp.MustCompile(`\b(trainyard_[a-z0-9_]+)\{([^}]*)\}`)
	matcher     = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	grouping    = regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\(([^)]*)\)`)
	legendLabel = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}|\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
	labelValues = regexp.MustCompile(`label_values\(\s*(trainyard_[a-z0-9_]+)[^,]*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
)

// checkQuery reports the metrics a query uses that the service does not
// export, and the labels it selects, groups or names that those metrics
// do not have.
func checkQuery(t *testing.T, fams map[string]family, q query) {
	t.Helper()
	names := metricName.FindAllString(q.expr, -1)
	if len(names) == 0 && !strings.Contains(q.expr, "up{") {
		t.Errorf("%s: no Trainyard metric in %q", q.where, q.expr)
	}
	known := slices.Clone(targetLabels)
	for _, name := range names {
		f, ok := lookup(fams, name)
		if !ok {
			t.Errorf("%s: %s is not a metric the service exports", q.where, name)
			continue
		}
		known = append(known, f.labels...)
	}
	for _, m := range selector.FindAllStringSubmatch(q.expr, -1) {
		f, ok := lookup(fams, m[1])
		if !ok {
			continue
		}
		for _, l := range matcher.FindAllStringSubmatch(m[2], -1) {
			if !slices.Contains(f.labels, l[1]) && !slices.Contains(targetLabels, l[1]) {
				t.Errorf("%s: %s has no label %s", q.where, m[1], l[1])
			}
		}
	}
	for _, m := range grouping.FindAllStringSubmatch(q.expr, -1) {
		for l := range strings.SplitSeq(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(known, l) {
				t.Errorf("%s: groups by %s, which none of %v has", q.where, l, names)
			}
		}
	}
	for _, m := range legendLabel.FindAllStringSubmatch(q.legend, -1) {
		if l := m[1] + m[2]; !slices.Contains(known, l) {
			t.Errorf("%s: names the label %s, which none of %v has", q.where, l, names)
		}
	}
	for _, m := range labelValues.FindAllStringSubmatch(q.expr, -1) {
		f, ok := lookup(fams, m[1])
		if ok && !slices.Contains(f.labels, m[2]) && !slices.Contains(targetLabels, m[2]) {
			t.Errorf("%s: %s has no label %s", q.where, m[1], m[2])
		}
	}
}

func TestAlertQueriesUseExportedMetrics(t *testing.T) {
	fams := exported(t)
	for _, r := range alertRules(t) {
		checkQuery(t, fams, query{where: "alert " + r.Alert, expr: r.Expr})
		for _, a := range []string{"summary", "description"} {
			checkQuery(t, fams, query{where: "alert " + r.Alert + " " + a, expr: r.Expr, legend: r.Annotations[a]})
		}
	}
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
		RefID        string `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("parse %s: %v", dashboardFile, err)
	}
	return d
}

func TestDashboardQueriesUseExportedMetrics(t *testing.T) {
	fams := exported(t)
	d := readDashboard(t)
	var queries []query
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries = append(queries, query{where: "panel " + p.Title + " " + tg.RefID, expr: tg.Expr, legend: tg.LegendFormat})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, ok := v.Query.(map[string]any)
		if !ok {
			t.Fatalf("variable %s: query %v is not an object", v.Name, v.Query)
		}
		queries = append(queries, query{where: "variable " + v.Name, expr: q["query"].(string)})
	}
	if len(queries) < 20 {
		t.Fatalf("%d queries in the dashboard: the panels were not read", len(queries))
	}
	used := map[string]bool{}
	for _, q := range queries {
		checkQuery(t, fams, q)
		for _, name := range metricName.FindAllString(q.expr, -1) {
			used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] = true
		}
	}
	// The dashboard shows every metric the service exports.
	for name := range fams {
		if !used[name] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
}

// The dashboard is laid out on Grafana's 24 columns, its panels have ids
// of their own, and each query panel reads the dashboard's data source
// variable.
func TestDashboardLayout(t *testing.T) {
	d := readDashboard(t)
	if d.UID != "trainyard" || d.Title != "Trainyard" {
		t.Errorf("uid %q title %q", d.UID, d.Title)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q at %+v is off the grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, `job=~"$job"`) {
				t.Errorf("panel %q: %q ignores the job variable", p.Title, tg.Expr)
			}
		}
	}
}
