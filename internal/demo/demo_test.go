package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// repeat runs the GitHub demo's scenario this many times in a row, as a
// stress test of runs that must never hang (docs/benchmarks.md).
var repeat = flag.Int("demo.repeat", 0, "run the GitHub demo this many times in a row")

func TestDemoGitHubRepeated(t *testing.T) {
	if *repeat == 0 {
		t.Skip("a stress test: -demo.repeat=N runs it")
	}
	for i := range *repeat {
		if !t.Run(fmt.Sprintf("run-%d", i+1), func(t *testing.T) { testDemo(t, ForgeGitHub) }) {
			t.Fatalf("run %d of %d failed", i+1, *repeat)
		}
	}
}

func TestDemoMergesTheGoodAndEvictsTheRest(t *testing.T) {
	for _, forge := range []string{ForgeGitLab, ForgeGitHub} {
		t.Run(forge, func(t *testing.T) { testDemo(t, forge) })
	}
}

func testDemo(t *testing.T, forge string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Defaults()
	o.Forge = forge
	o.CIDuration = 50 * time.Millisecond
	o.Dir = filepath.Join(t.TempDir(), "run")
	var out bytes.Buffer
	s, err := Run(ctx, o, &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	mrs := readMRs(t, filepath.Join(o.Dir, MRsFile))
	if len(mrs) != o.MRs {
		t.Fatalf("%s has %d MRs, want %d", MRsFile, len(mrs), o.MRs)
	}
	// A conflicting MR changes VERSION as the one before it does: whichever
	// of the two reaches main second does not merge cleanly, and the order
	// depends on what the train bisected, so either may be the one evicted.
	partner := map[int64]bool{}
	for _, m := range mrs {
		if m.Conflicting {
			partner[m.IID-1] = true
		}
	}
	byIID := map[int64]mrRecord{}
	for _, m := range mrs {
		byIID[m.IID] = m
	}
	var broken, conflicting, merged int
	for _, m := range mrs {
		switch {
		case m.Broken:
			broken++
			if m.FinalState != string(train.StateEvicted) || !failedPipeline.MatchString(m.Reason) {
				t.Errorf("broken !%d: %s %q, want evicted for a failed pipeline", m.IID, m.FinalState, m.Reason)
			}
		case m.Conflicting || partner[m.IID]:
			if m.FinalState == string(train.StateMerged) {
				merged++
				continue
			}
			conflicting++
			if m.FinalState != string(train.StateEvicted) || !strings.Contains(m.Reason, "conflicting paths: `VERSION`") {
				t.Errorf("!%d of a conflicting pair: %s %q, want merged or evicted for a conflict in VERSION", m.IID, m.FinalState, m.Reason)
			}
		default:
			merged++
			if m.FinalState != string(train.StateMerged) {
				t.Errorf("!%d: %s %q, want merged", m.IID, m.FinalState, m.Reason)
			}
		}
		if m.SourceBranch != fmt.Sprintf("feature-%d", m.IID) || len(m.HeadSHA) != 40 {
			t.Errorf("!%d: source %q head %q", m.IID, m.SourceBranch, m.HeadSHA)
		}
	}
	for _, m := range mrs {
		if m.Conflicting && !byIID[m.IID-1].Broken {
			if a, b := byIID[m.IID-1].FinalState, m.FinalState; (a == string(train.StateMerged)) == (b == string(train.StateMerged)) {
				t.Errorf("conflicting pair !%d (%s) and !%d (%s): want exactly one merged", m.IID-1, a, m.IID, b)
			}
		}
	}
	if broken == 0 || conflicting == 0 {
		t.Fatalf("the default draw has %d broken and %d conflicting MRs; it should show both", broken, conflicting)
	}
	pipelines := readPipelines(t, filepath.Join(o.Dir, PipelinesFile))
	var sum summaryRecord
	readJSON(t, filepath.Join(o.Dir, SummaryFile), &sum)
	if sum.Merged != merged || sum.Evicted != broken+conflicting || sum.Pipelines != len(pipelines) || sum.TargetHead != s.Head || sum.WallSeconds <= 0 {
		t.Errorf("summary %+v; want %d merged, %d evicted, %d pipelines, head %s", sum, merged, broken+conflicting, len(pipelines), s.Head)
	}
	checkHistory(t, o.Dir, s, pipelines)
	checkNoBrokenFiles(t, o.Dir, mrs)
	for _, want := range []string{"joins the train", "merged speculatively", "main moves", "leaves the train"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	checkLog(t, out.String())
}

// stamp is the time a log line starts with.
var stamp = regexp.MustCompile(`^ *[0-9]+\.[0-9]s  `)

// checkLog: the plain log tells no event twice, spells "cancelled" one
// way, and holds no terminal control sequence.
func checkLog(t *testing.T, out string) {
	t.Helper()
	seen := map[string]bool{}
	events := 0
	for _, l := range strings.Split(out, "\n") {
		if !stamp.MatchString(l) {
			continue
		}
		events++
		event := stamp.ReplaceAllString(l, "")
		if seen[event] {
			t.Errorf("told twice: %q\n%s", event, out)
		}
		seen[event] = true
	}
	if events < 10 {
		t.Errorf("only %d events in the log:\n%s", events, out)
	}
	if strings.Contains(strings.ToLower(out), "canceled") {
		t.Errorf("output spells it canceled:\n%s", out)
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("a plain log holds terminal control sequences:\n%q", out)
	}
}

// checkHistory: main's first-parent line since the start has one commit
// per merged MR, and every MR merged with a move of main to a commit whose
// pipeline passed for that exact SHA; the commits between two moves are the
// MRs that the later commit's pipeline tested with it (a batch, or a car
// merged by the success of a car behind it).
func checkHistory(t *testing.T, dir string, s Summary, pipelines []pipelineLine) {
	t.Helper()
	byID := map[int64]pipelineLine{}
	for _, p := range pipelines {
		byID[p.ID] = p
	}
	line := strings.Fields(git(t, dir, "rev-list", "--first-parent", s.Initial+"..main"))
	if len(line) == 0 || line[0] != s.Head {
		t.Fatalf("main's first-parent line %v does not end at %s", line, s.Head)
	}
	// pos is each commit's place on the line, newest first.
	pos := map[string]int{}
	for i, c := range line {
		pos[c] = i
	}
	moves := map[string]bool{}
	merged := 0
	for _, m := range s.MRs {
		if m.State != train.StateMerged {
			continue
		}
		merged++
		p, ok := byID[m.Pipeline]
		if !ok || p.Status != "success" || p.SHA != m.Commit {
			t.Errorf("!%d merged as %s by pipeline #%d, which is %+v", m.MR, m.Commit, m.Pipeline, p)
		}
		if _, ok := pos[m.Commit]; !ok {
			t.Errorf("!%d merged as %s, which is not on main's first-parent line", m.MR, m.Commit)
		}
		moves[m.Commit] = true
	}
	if !moves[line[0]] {
		t.Errorf("main's head %s is no merged MR's tested commit", line[0])
	}
	if len(line) != merged {
		t.Errorf("main's first-parent line has %d commits for %d merged MRs", len(line), merged)
	}
}

// failedPipeline matches the reasons of evictions for failed pipelines: a
// second test on its own, or the witness behind, confirmed the first.
var failedPipeline = regexp.MustCompile(`^pipeline #[0-9]+ failed(; it tested this merge request again|, and so did pipeline #[0-9]+)`)

func checkNoBrokenFiles(t *testing.T, dir string, mrs []mrRecord) {
	t.Helper()
	files := git(t, dir, "ls-tree", "-r", "--name-only", "main")
	for _, m := range mrs {
		if m.Broken && strings.Contains(files, fmt.Sprintf("features/feature-%d/", m.IID)) {
			t.Errorf("broken !%d's files are on main:\n%s", m.IID, files)
		}
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"--git-dir", filepath.Join(dir, "repos", "demo", "app.git")}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}

func readMRs(t *testing.T, path string) []mrRecord {
	t.Helper()
	var mrs []mrRecord
	readJSON(t, path, &mrs)
	return mrs
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

func readPipelines(t *testing.T, path string) []pipelineLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []pipelineLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var fields map[string]any
		if err := json.Unmarshal(sc.Bytes(), &fields); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(fields) != 7 {
			t.Errorf("%s line has fields %v, want id project ref sha status started_at finished_at", path, fields)
		}
		var p pipelineLine
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if p.Project != project || p.SHA == "" || p.FinishedAt.IsZero() {
			t.Errorf("pipeline %+v is incomplete", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return out
}
