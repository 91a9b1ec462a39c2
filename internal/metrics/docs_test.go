package metrics

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/trainyard/trainyard/internal/buildinfo"
)

// operationsGuide is where every metric is documented, one table row each.
const operationsGuide = "../../docs/operations.md"

// docRow is one row of a metrics table in the operations guide.
type docRow struct {
	kind    string
	labels  []string
	meaning string
}

var (
	rowName    = regexp.MustCompile("^\\| `(trainyard_[a-z0-9_]+)` \\|")
	backticked = regexp.MustCompile("`([^`]+)`")
	// A letter after the prefix: release files (trainyard_1.2.3_amd64.deb)
	// are not metrics.
	metricInText = regexp.MustCompile(`\btrainyard_[a-z][a-z0-9_]*`)
)

// metricRows reads the metric tables of the operations guide.
func metricRows(t *testing.T) map[string]docRow {
	t.Helper()
	data, err := os.ReadFile(operationsGuide)
	if err != nil {
		t.Fatalf("read the operations guide: %v", err)
	}
	rows := map[string]docRow{}
	for line := range strings.SplitSeq(string(data), "\n") {
		m := rowName.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cols := strings.Split(strings.Trim(line, "| "), "|")
		if len(cols) < 4 {
			t.Fatalf("metric row has %d columns, want 4: %s", len(cols), line)
		}
		var labels []string
		for _, l := range backticked.FindAllStringSubmatch(cols[2], -1) {
			labels = append(labels, l[1])
		}
		slices.Sort(labels)
		if _, dup := rows[m[1]]; dup {
			t.Errorf("%s has two rows", m[1])
		}
		rows[m[1]] = docRow{kind: strings.TrimSpace(cols[1]), labels: labels, meaning: strings.Join(cols[3:], "|")}
	}
	return rows
}

// exported is every Trainyard metric family the service exports.
func exported(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	reg := NewRegistry()
	m := New(reg)
	feedAll(t, m, reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), namespace+"_") {
			out[mf.GetName()] = mf
		}
	}
	// The trains' gauges and the dead letters are read at each scrape,
	// beside New's collectors.
	if want := len(m.collectors()) + 3; len(out) != want {
		t.Fatalf("%d Trainyard metrics gathered, %d registered: feedAll misses some", len(out), want)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	return out
}

func labelNames(mf *dto.MetricFamily) []string {
	var out []string
	for _, s := range mf.GetMetric() {
		for _, l := range s.GetLabel() {
			if !slices.Contains(out, l.GetName()) {
				out = append(out, l.GetName())
			}
		}
	}
	slices.Sort(out)
	return out
}

// Every metric the service exports has a row in the operations guide
// giving its type and labels as exported, and every row is a metric the
// service exports.
func TestMetricsTableMatchesTheRegistry(t *testing.T) {
	mfs := exported(t)
	rows := metricRows(t)
	for name, mf := range mfs {
		if strings.TrimSpace(mf.GetHelp()) == "" {
			t.Errorf("%s has no HELP text", name)
		}
		row, ok := rows[name]
		if !ok {
			t.Errorf("%s has no row in docs/operations.md", name)
			continue
		}
		if want := strings.ToLower(mf.GetType().String()); row.kind != want {
			t.Errorf("%s: documented as a %s, exported as a %s", name, row.kind, want)
		}
		if got := labelNames(mf); !slices.Equal(row.labels, got) {
			t.Errorf("%s: documented labels %v, exported %v", name, row.labels, got)
		}
	}
	for name := range rows {
		if _, ok := mfs[name]; !ok {
			t.Errorf("docs/operations.md documents %s, which the service does not export", name)
		}
	}
}

// Every metric named anywhere in the documentation is one the service
// exports (a histogram's _bucket, _sum and _count included).
func TestDocsNameOnlyExportedMetrics(t *testing.T) {
	mfs := exported(t)
	// Names that look like metrics and are not.
	others := map[string]bool{"trainyard_session": true} // the dashboard's cookie
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../README.md")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range metricInText.FindAllString(string(data), -1) {
			if !others[name] && !knownMetric(mfs, name) {
				t.Errorf("%s names %s, which the service does not export", filepath.Base(file), name)
			}
		}
	}
}

// knownMetric reports whether name is an exported metric or one of the
// series a histogram is exposed as.
func knownMetric(mfs map[string]*dto.MetricFamily, name string) bool {
	if _, ok := mfs[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if mf, ok := mfs[base]; ok && mf.GetType() == dto.MetricType_HISTOGRAM {
				return true
			}
		}
	}
	return false
}

// The rows of the metrics whose label values come from fixed sets name
// every value, taken from where each set is declared.
func TestDocumentedLabelValues(t *testing.T) {
	rows := metricRows(t)
	var states []string
	for _, s := range carStates() {
		states = append(states, string(s))
	}
	var reasons []string
	for _, r := range evictionReasons() {
		reasons = append(reasons, string(r))
	}
	for _, c := range []struct {
		metric string
		values []string
	}{
		{"trainyard_webhook_deliveries_total", constValues(t, "../webhook/webhook.go", "Outcome")},
		{"trainyard_events_total", constValues(t, "../engine/workers.go", "Outcome")},
		{"trainyard_cars", states},
		{"trainyard_evictions_total", reasons},
		{"trainyard_panics_total", []string{"event", "sweep", "other"}},
	} {
		row, ok := rows[c.metric]
		if !ok {
			t.Errorf("no row for %s", c.metric)
			continue
		}
		for _, v := range c.values {
			if !strings.Contains(row.meaning, "`"+v+"`") {
				t.Errorf("the row of %s does not name the value `%s`", c.metric, v)
			}
		}
	}
}

func TestBuildInfo(t *testing.T) {
	_, reg := newMetrics(t)
	b := buildinfo.Get()
	want := map[string]string{"version": b.Version, "commit": b.Commit, "date": b.Date, "go_version": b.GoVersion}
	if got := gauge(t, reg, "trainyard_build_info", want); got != 1 {
		t.Fatalf("build info = %v, want 1", got)
	}
	if got := labelValues(t, reg, "trainyard_build_info", "version"); len(got) != 1 {
		t.Fatalf("build info series = %d, want 1", len(got))
	}
	if b.GoVersion == "" || b.Version == "" {
		t.Fatalf("build info has empty labels: %+v", b)
	}
}
