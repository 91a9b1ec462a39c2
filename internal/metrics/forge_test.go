package metrics

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// cannedForge answers every call with fixed values, or with err when set,
// and remembers the last call it got.
type cannedForge struct {
	err  error
	last string
}

func (f *cannedForge) called(op string, args ...any) {
	f.last = op + fmt.Sprint(args...)
}

func (f *cannedForge) MergeRequest(_ context.Context, project string, iid int64) (forge.MR, error) {
	f.called("MergeRequest", project, iid)
	return forge.MR{Project: project, IID: iid, HeadSHA: "abc"}, f.err
}

func (f *cannedForge) AccessLevel(_ context.Context, project string, userID int64) (forge.AccessLevel, error) {
	f.called("AccessLevel", project, userID)
	return forge.Maintainer, f.err
}

func (f *cannedForge) CreatePipeline(_ context.Context, project, ref string, vars map[string]string) (forge.Pipeline, error) {
	f.called("CreatePipeline", project, ref, vars)
	return forge.Pipeline{ID: 41, Ref: ref}, f.err
}

func (f *cannedForge) PipelinesFor(_ context.Context, project, ref, sha string) ([]forge.Pipeline, error) {
	f.called("PipelinesFor", project, ref, sha)
	return []forge.Pipeline{{ID: 42, SHA: sha}}, f.err
}

func (f *cannedForge) Pipeline(_ context.Context, project string, id int64) (forge.Pipeline, error) {
	f.called("Pipeline", project, id)
	return forge.Pipeline{ID: id, Status: train.PipelineRunning}, f.err
}

func (f *cannedForge) CancelPipeline(_ context.Context, project string, id int64) error {
	f.called("CancelPipeline", project, id)
	return f.err
}

func (f *cannedForge) Comment(_ context.Context, project string, iid int64, body string) error {
	f.called("Comment", project, iid, body)
	return f.err
}

func (f *cannedForge) CloseMR(_ context.Context, project string, iid int64) error {
	f.called("CloseMR", project, iid)
	return f.err
}

func (f *cannedForge) Notes(_ context.Context, project string, iid int64) ([]forge.Note, error) {
	f.called("Notes", project, iid)
	return []forge.Note{{ID: 1, Body: "hi"}}, f.err
}

func (f *cannedForge) BranchHead(_ context.Context, project, branch string) (string, error) {
	f.called("BranchHead", project, branch)
	return "head-of-" + branch, f.err
}

// forgeCall is one call through engine.Forge, its arguments and the value
// the canned forge answers.
type forgeCall struct {
	method string
	call   func(ctx context.Context, f engine.Forge) (any, error)
	want   any
}

func forgeCalls() []forgeCall {
	return []forgeCall{
		{"MergeRequest", func(ctx context.Context, f engine.Forge) (any, error) { return f.MergeRequest(ctx, "g/p", 7) },
			forge.MR{Project: "g/p", IID: 7, HeadSHA: "abc"}},
		{"AccessLevel", func(ctx context.Context, f engine.Forge) (any, error) { return f.AccessLevel(ctx, "g/p", 3) },
			forge.Maintainer},
		{"CreatePipeline", func(ctx context.Context, f engine.Forge) (any, error) {
			return f.CreatePipeline(ctx, "g/p", "car", map[string]string{"A": "1"})
		}, forge.Pipeline{ID: 41, Ref: "car"}},
		{"PipelinesFor", func(ctx context.Context, f engine.Forge) (any, error) { return f.PipelinesFor(ctx, "g/p", "car", "s1") },
			[]forge.Pipeline{{ID: 42, SHA: "s1"}}},
		{"Pipeline", func(ctx context.Context, f engine.Forge) (any, error) { return f.Pipeline(ctx, "g/p", 43) },
			forge.Pipeline{ID: 43, Status: train.PipelineRunning}},
		{"CancelPipeline", func(ctx context.Context, f engine.Forge) (any, error) { return nil, f.CancelPipeline(ctx, "g/p", 44) },
			nil},
		{"Comment", func(ctx context.Context, f engine.Forge) (any, error) { return nil, f.Comment(ctx, "g/p", 7, "body") },
			nil},
		{"CloseMR", func(ctx context.Context, f engine.Forge) (any, error) { return nil, f.CloseMR(ctx, "g/p", 7) },
			nil},
		{"Notes", func(ctx context.Context, f engine.Forge) (any, error) { return f.Notes(ctx, "g/p", 7) },
			[]forge.Note{{ID: 1, Body: "hi"}}},
		{"BranchHead", func(ctx context.Context, f engine.Forge) (any, error) { return f.BranchHead(ctx, "g/p", "main") },
			"head-of-main"},
	}
}

// snake turns a Go method name into the op label: MergeRequest is
// merge_request.
// snake turns a method name into its op label; an acronym stays one word
// ("CloseMR" is close_mr).
func snake(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && !unicode.IsUpper(rs[i-1]) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestForgeCallsCoverTheInterface(t *testing.T) {
	iface := reflect.TypeFor[engine.Forge]()
	calls := forgeCalls()
	if len(calls) != iface.NumMethod() {
		t.Fatalf("%d calls tested, engine.Forge has %d methods", len(calls), iface.NumMethod())
	}
	for _, c := range calls {
		if _, ok := iface.MethodByName(c.method); !ok {
			t.Errorf("engine.Forge has no method %s", c.method)
		}
	}
}

func TestInstrumentForgeTimesAndCountsEveryMethod(t *testing.T) {
	m, reg := newMetrics(t)
	inner := &cannedForge{}
	f := m.InstrumentForge(inner, "gitlab")
	// Every op has its series before the first call.
	if n := testutil.CollectAndCount(m.forgeCalls); n != len(forgeCalls()) {
		t.Fatalf("request series before any call = %d, want %d", n, len(forgeCalls()))
	}
	ctx := context.Background()
	boom := errors.New("boom")
	for _, c := range forgeCalls() {
		t.Run(c.method, func(t *testing.T) {
			op := snake(c.method)
			inner.err = nil
			got, err := c.call(ctx, f)
			if err != nil {
				t.Fatalf("%s: %v", c.method, err)
			}
			if c.want != nil && !reflect.DeepEqual(got, c.want) {
				t.Fatalf("%s = %#v, want %#v", c.method, got, c.want)
			}
			if !strings.HasPrefix(inner.last, c.method) {
				t.Fatalf("inner forge got %q, want a %s call", inner.last, c.method)
			}
			inner.err = fmt.Errorf("%s: %w", op, boom)
			if _, err := c.call(ctx, f); !errors.Is(err, boom) {
				t.Fatalf("%s error = %v, want the inner forge's", c.method, err)
			}
			_, _ = c.call(ctx, f)

			if got := testutil.ToFloat64(m.forgeCalls.WithLabelValues("gitlab", op)); got != 3 {
				t.Errorf("requests{op=%s} = %v, want 3", op, got)
			}
			if got := testutil.ToFloat64(m.forgeErrs.WithLabelValues("gitlab", op)); got != 2 {
				t.Errorf("errors{op=%s} = %v, want 2", op, got)
			}
			h := histogram(t, reg, "trainyard_forge_request_duration_seconds", map[string]string{"forge": "gitlab", "op": op})
			if h.GetSampleCount() != 3 {
				t.Errorf("duration count{op=%s} = %d, want 3", op, h.GetSampleCount())
			}
		})
	}
	if n := testutil.CollectAndCount(m.forgeCalls); n != len(forgeCalls()) {
		t.Fatalf("request series = %d, want one per op (%d)", n, len(forgeCalls()))
	}
}

func TestInstrumentForgeKeepsForgesApart(t *testing.T) {
	m, _ := newMetrics(t)
	ctx := context.Background()
	gl := m.InstrumentForge(&cannedForge{}, "gitlab")
	gh := m.InstrumentForge(&cannedForge{err: forge.ErrNotFound}, "github")
	if _, err := gl.BranchHead(ctx, "g/p", "main"); err != nil {
		t.Fatal(err)
	}
	if _, err := gh.BranchHead(ctx, "o/r", "main"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("github error = %v, want not found", err)
	}
	for _, c := range []struct {
		forge      string
		calls, err float64
	}{{"gitlab", 1, 0}, {"github", 1, 1}} {
		if got := testutil.ToFloat64(m.forgeCalls.WithLabelValues(c.forge, "branch_head")); got != c.calls {
			t.Errorf("%s requests = %v, want %v", c.forge, got, c.calls)
		}
		if got := testutil.ToFloat64(m.forgeErrs.WithLabelValues(c.forge, "branch_head")); got != c.err {
			t.Errorf("%s errors = %v, want %v", c.forge, got, c.err)
		}
	}
}
