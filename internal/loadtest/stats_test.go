package loadtest

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(101-i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := Percentile(ds, c.q); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := Percentile(nil, 0.5); got != 0 {
		t.Errorf("Percentile(nil) = %v", got)
	}
}

func TestLatenciesPairPushesWithThePipelineThatPassedTheirCommit(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	log := []fakeforge.PipelineRecord{
		{Project: "g/a", SHA: "c1", Status: fakeforge.PipelineFailed, FinishedAt: t0},
		{Project: "g/a", SHA: "c1", Status: fakeforge.PipelineSuccess, FinishedAt: t0.Add(time.Second)},
		{Project: "g/b", SHA: "c2", Status: fakeforge.PipelineSuccess, FinishedAt: t0},
	}
	moves := []fakeforge.BranchMoved{
		{Project: "g/a", Branch: "main", New: "c1", At: t0.Add(time.Second + 30*time.Millisecond)},
		{Project: "g/b", Branch: "main", New: "c2", At: t0.Add(5 * time.Millisecond)},
		{Project: "g/b", Branch: "main", New: "c3", At: t0.Add(time.Second)},
	}
	got, unmatched := latencies(moves, passedAt(log))
	if len(got) != 2 || got[0] != 30*time.Millisecond || got[1] != 5*time.Millisecond || unmatched != 1 {
		t.Errorf("latencies = %v, %d unmatched; want [30ms 5ms], 1", got, unmatched)
	}
}

func TestKind(t *testing.T) {
	for _, c := range []struct {
		method, target, body string
		want                 requestKind
	}{
		{"GET", "/g/a.git/info/refs?service=git-upload-pack", "", kindGit},
		{"POST", "/g/a.git/git-receive-pack", "", kindGit},
		{"GET", "/api/v4/projects/g%2Fa/merge_requests/1", "", kindRead},
		{"GET", "/api/v4/projects/g%2Fa/merge_requests?updated_after=2026-01-01T00:00:00Z", "", kindCatchUp},
		{"GET", "/api/v3/repos/g/a/issues/comments?since=x", "", kindCatchUp},
		{"POST", "/api/v4/projects/g%2Fa/pipeline", "", kindWrite},
		{"PUT", "/api/v4/projects/g%2Fa/merge_requests/1/notes/2", "", kindWrite},
		{"POST", "/api/graphql", `{"query":"query($n:Int!){repository{pullRequest(number:$n){id}}}"}`, kindRead},
		{"POST", "/api/graphql", `{"query":"mutation{resolveReviewThread{thread{id}}}"}`, kindWrite},
	} {
		r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
		if got := kind(r); got != c.want {
			t.Errorf("%s %s: kind %d, want %d", c.method, c.target, got, c.want)
		}
	}
}
