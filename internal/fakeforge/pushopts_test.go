package fakeforge

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// carOptions are the push options Trainyard sends with a car branch.
var carOptions = []string{"ci.variable=TRAINYARD=true", "ci.variable=TRAINYARD_MRS=3,4"}

var carVars = map[string]string{"TRAINYARD": "true", "TRAINYARD_MRS": "3,4"}

// cloneWork clones project1 and returns the work tree.
func cloneWork(t *testing.T, f *Forge) string {
	t.Helper()
	dir := t.TempDir()
	mustGit(t, dir, authed(botToken, "clone", "--quiet", f.CloneURL(project1), "w")...)
	return filepath.Join(dir, "w")
}

// commitFile commits name with content in work and returns the commit.
func commitFile(t *testing.T, work, name, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "add", name)
	mustGit(t, work, "commit", "--quiet", "-m", "Add "+name)
	return mustGit(t, work, "rev-parse", "HEAD")
}

// pushOpts runs git push with each of opts as -o, then the given push
// arguments.
func pushOpts(t *testing.T, work string, opts []string, args ...string) {
	t.Helper()
	cmd := []string{"push", "--quiet"}
	for _, o := range opts {
		cmd = append(cmd, "-o", o)
	}
	mustGit(t, work, authed(botToken, append(cmd, args...)...)...)
}

func mustPipelines(t *testing.T, f *Forge) []Pipeline {
	t.Helper()
	ps, err := f.Pipelines(project1)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// hookVars returns the variables of the first pipeline hook for pipeline
// id, as "KEY=value" in the order sent.
func hookVars(t *testing.T, hooks *sink, f *Forge, id int64) []string {
	t.Helper()
	evs, _ := hooks.events(t, f, EventPipeline)
	for _, e := range evs {
		pe := e.(*gitlab.PipelineEvent)
		if pe.ObjectAttributes.ID != id {
			continue
		}
		vars := []string{}
		for _, v := range pe.ObjectAttributes.Variables {
			vars = append(vars, v.Key+"="+v.Value)
		}
		return vars
	}
	t.Fatalf("no pipeline hook for pipeline %d", id)
	return nil
}

// TestGitPushOptionsCI pushes a new branch with and without GitLab's CI
// push options, with the real git client, under each CI setting.
func TestGitPushOptionsCI(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ci       CI
		opts     []string
		pipeline bool              // whether the push starts one
		vars     map[string]string // its variables
	}{
		{name: "variables start a pipeline", opts: carOptions, pipeline: true, vars: carVars},
		{name: "variables with OnPush start one pipeline", ci: CI{OnPush: true}, opts: carOptions, pipeline: true, vars: carVars},
		{name: "ci.skip wins over variables", opts: append([]string{"ci.skip"}, carOptions...)},
		{name: "ci.skip wins over OnPush", ci: CI{OnPush: true}, opts: append(slices.Clone(carOptions), "ci.skip")},
		{name: "APIOnly ignores variables", ci: CI{APIOnly: true}, opts: carOptions},
		{name: "APIOnly wins over OnPush", ci: CI{APIOnly: true, OnPush: true}, opts: carOptions},
		{name: "no options without OnPush", opts: nil},
		{name: "no options with OnPush", ci: CI{OnPush: true}, opts: nil, pipeline: true, vars: map[string]string{}},
		{name: "other options are not variables", ci: CI{OnPush: true}, opts: []string{"merge_request.create", "ci.variable=BAD-NAME=1"},
			pipeline: true, vars: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newForge(t, func(o *Options) { o.CI = tc.ci; o.CI.Manual = true })
			mustProject(t, f, project1, nil)
			hooks := newSink(t, f, "")
			work := cloneWork(t, f)
			sha := commitFile(t, work, "car.txt", "car\n")
			pushOpts(t, work, tc.opts, "origin", "HEAD:refs/heads/trainyard/car-1")

			if evs, _ := hooks.events(t, f, EventPush); len(evs) != 1 {
				t.Fatalf("got %d push events, want 1", len(evs))
			}
			ps := mustPipelines(t, f)
			if !tc.pipeline {
				if len(ps) != 0 {
					t.Fatalf("pipelines = %+v, want none", ps)
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("pipelines = %+v, want one", ps)
			}
			pl := ps[0]
			if pl.Ref != "trainyard/car-1" || pl.SHA != sha || pl.Source != "push" || pl.User != botName || !maps.Equal(pl.Variables, tc.vars) {
				t.Fatalf("pipeline = %+v, want ref trainyard/car-1 sha %s source push user %s variables %v", pl, sha, botName, tc.vars)
			}
			var want []string
			for _, o := range tc.opts {
				if v, ok := strings.CutPrefix(o, "ci.variable="); ok && !strings.HasPrefix(v, "BAD") {
					want = append(want, v)
				}
			}
			if got := hookVars(t, hooks, f, pl.ID); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("pipeline hook variables = %q, want %q", got, want)
			}
		})
	}
}

// TestAPIOnlyStillRunsAPIPipelines: APIOnly stops push pipelines, not the
// ones the API creates.
func TestAPIOnlyStillRunsAPIPipelines(t *testing.T) {
	f := newForge(t, func(o *Options) { o.CI = CI{APIOnly: true, Manual: true} })
	mustProject(t, f, project1, nil)
	work := cloneWork(t, f)
	sha := commitFile(t, work, "car.txt", "car\n")
	pushOpts(t, work, carOptions, "origin", "HEAD:refs/heads/car")
	created := createPipeline(t, client(t, f, botToken), "car", map[string]string{"TRAINYARD": "true"})
	ps := mustPipelines(t, f)
	if len(ps) != 1 || ps[0].ID != created.ID || ps[0].Source != "api" || ps[0].SHA != sha ||
		!maps.Equal(ps[0].Variables, map[string]string{"TRAINYARD": "true"}) {
		t.Fatalf("pipelines = %+v, want only the API's %d", ps, created.ID)
	}
}

// TestForcePushWithOptions: a force-push moving a branch with options
// starts a pipeline on the new commit; the push that created the branch
// without options started none.
func TestForcePushWithOptions(t *testing.T) {
	f := newForge(t, func(o *Options) { o.CI.Manual = true })
	mustProject(t, f, project1, nil)
	work := cloneWork(t, f)
	commitFile(t, work, "car.txt", "one\n")
	pushOpts(t, work, nil, "origin", "HEAD:refs/heads/car")
	if ps := mustPipelines(t, f); len(ps) != 0 {
		t.Fatalf("pipelines after a push without options = %+v", ps)
	}

	mustGit(t, work, "reset", "--quiet", "--hard", "HEAD~1")
	rebuilt := commitFile(t, work, "car.txt", "two\n")
	pushOpts(t, work, carOptions, "--force", "origin", "HEAD:refs/heads/car")
	head, err := f.BranchHead(context.Background(), project1, "car")
	if err != nil || head != rebuilt {
		t.Fatalf("BranchHead(car) = %q, %v; want %s", head, err, rebuilt)
	}
	ps := mustPipelines(t, f)
	if len(ps) != 1 || ps[0].Ref != "car" || ps[0].SHA != rebuilt || ps[0].Source != "push" || !maps.Equal(ps[0].Variables, carVars) {
		t.Fatalf("pipelines after force-push = %+v, want one on car at %s with %v", ps, rebuilt, carVars)
	}
}

// TestPushOptionsApplyToEveryBranchPushed: one push creating two
// branches and deleting a third starts a pipeline on each branch created,
// none for the deletion.
func TestPushOptionsApplyToEveryBranchPushed(t *testing.T) {
	f := newForge(t, func(o *Options) { o.CI.Manual = true })
	mustProject(t, f, project1, nil)
	work := cloneWork(t, f)
	pushOpts(t, work, nil, "origin", "HEAD:refs/heads/old")
	sha := commitFile(t, work, "car.txt", "car\n")
	pushOpts(t, work, carOptions, "origin", "HEAD:refs/heads/car-a", "HEAD:refs/heads/car-b", ":refs/heads/old")
	if _, err := f.BranchHead(context.Background(), project1, "old"); err == nil {
		t.Fatal("branch old still exists")
	}
	ps := mustPipelines(t, f)
	var refs []string
	for _, pl := range ps {
		if pl.SHA != sha || pl.Source != "push" || !maps.Equal(pl.Variables, carVars) {
			t.Fatalf("pipeline = %+v, want on %s from push with %v", pl, sha, carVars)
		}
		refs = append(refs, pl.Ref)
	}
	// Pipelines lists newest first; branches are handled in name order.
	if strings.Join(refs, ",") != "car-b,car-a" {
		t.Fatalf("pipelines on %v, want car-b,car-a", refs)
	}
}

// pkt frames payload as a pkt-line.
func pkt(payload string) string { return fmt.Sprintf("%04x%s", len(payload)+4, payload) }

const (
	shaA = "1111111111111111111111111111111111111111"
	shaB = "2222222222222222222222222222222222222222"
)

// pushBody builds a receive-pack request as git's send-pack writes it:
// shallow lines, commands (capabilities on the first), a flush, options and
// a flush when caps has push-options, then the pack. It returns the body
// and the length of its head, the part before the pack.
func pushBody(caps string, opts ...string) ([]byte, int) {
	var b strings.Builder
	b.WriteString(pkt("shallow " + shaA + "\n"))
	b.WriteString(pkt("shallow " + shaB + "\n"))
	b.WriteString(pkt(zeroSHA + " " + shaA + " refs/heads/trainyard/car-1\x00" + caps))
	b.WriteString(pkt(shaB + " " + zeroSHA + " refs/heads/gone"))
	b.WriteString(pkt(zeroSHA + " " + shaA + " refs/tags/v1"))
	b.WriteString("0000")
	if strings.Contains(caps, "push-options") {
		for _, o := range opts {
			b.WriteString(pkt(o))
		}
		b.WriteString("0000")
	}
	head := b.Len()
	b.WriteString("PACK\x00\x00\x00\x02\x00\x00\x00\x00binary")
	return []byte(b.String()), head
}

func gzipped(t *testing.T, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParsePushRequest(t *testing.T) {
	const caps = " report-status side-band-64k push-options object-format=sha1 agent=git/2.39.5"
	opts := []string{"ci.variable=TRAINYARD=true", "merge_request.create", "ci.variable=TRAINYARD_MRS=3,4"}
	withOpts, head := pushBody(caps, opts...)
	branches := map[string]bool{"trainyard/car-1": true, "gone": true}
	want := pushRequest{branches: branches, vars: []variable{
		{Key: "TRAINYARD", Value: "true", Type: "env_var"}, {Key: "TRAINYARD_MRS", Value: "3,4", Type: "env_var"},
	}}
	noCap, _ := pushBody(" report-status side-band-64k agent=git/2.39.5")
	skip, _ := pushBody(caps, "ci.skip")
	for _, tc := range []struct {
		name, encoding string
		body           []byte
		want           pushRequest
	}{
		{"options", "", withOpts, want},
		{"gzip", "gzip", gzipped(t, withOpts), want},
		{"x-gzip", "x-gzip", gzipped(t, withOpts), want},
		{"no push-options capability", "", noCap, pushRequest{branches: branches}},
		{"ci.skip", "", skip, pushRequest{branches: branches, skipCI: true}},
		{"probe of a large push", "", []byte("0000"), pushRequest{branches: map[string]bool{}}},
	} {
		got, err := parsePushRequest(tc.body, tc.encoding)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: parsePushRequest = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}

	// Cut anywhere before the options' flush-pkt, a request has no
	// options, and says why.
	for n := range head {
		got, err := parsePushRequest(withOpts[:n], "")
		if err == nil || !reflect.DeepEqual(got, pushRequest{}) {
			t.Fatalf("cut at %d of %d: parsePushRequest = %+v, %v; want no options and an error", n, head, got, err)
		}
	}
	zipped := gzipped(t, withOpts[:head-2])
	for _, tc := range []struct {
		name, encoding string
		body           []byte
	}{
		{"truncated gzip", "gzip", zipped[:len(zipped)/2]},
		{"not gzip", "gzip", withOpts},
		{"unknown encoding", "br", withOpts},
		{"length not hex", "", []byte("zzzzshallow")},
		{"delimiter", "", []byte("0001")},
		{"length too short", "", []byte("0003")},
		{"length too long", "", []byte("fff1" + strings.Repeat("x", 0xfff1))},
	} {
		got, err := parsePushRequest(tc.body, tc.encoding)
		if err == nil || !reflect.DeepEqual(got, pushRequest{}) {
			t.Errorf("%s: parsePushRequest = %+v, %v; want no options and an error", tc.name, got, err)
		}
	}
}

func TestCIPushOptions(t *testing.T) {
	for _, tc := range []struct {
		opts []string
		skip bool
		vars []variable
	}{
		{opts: nil},
		{opts: []string{"ci.skip"}, skip: true},
		{opts: []string{"ci.skip=true", "ci.variable=A=1"}, skip: true, vars: []variable{{"A", "1", "env_var"}}},
		{opts: []string{`ci.variable="A=x y"`, `ci.variable=B="q"`}, vars: []variable{{"A", "x y", "env_var"}, {"B", `"q"`, "env_var"}}},
		{opts: []string{"ci.variable=A=b=c", "ci.variable=EMPTY="}, vars: []variable{{"A", "b=c", "env_var"}, {"EMPTY", "", "env_var"}}},
		{opts: []string{"ci.variable==x", "ci.variable=A-B=1", "ci.variable=NOVALUE", "ci.variable", `ci.variable=""`, "ci.variable=ä=1"}},
		{opts: []string{"ci.variable=A=1", "ci.variable=B=2", "ci.variable=A=3"}, vars: []variable{{"A", "3", "env_var"}, {"B", "2", "env_var"}}},
		{opts: []string{"merge_request.create", "merge_request.target=main", "ci.skipper", "civariable=A=1"}},
	} {
		skip, vars := ciPushOptions(tc.opts)
		if skip != tc.skip || !reflect.DeepEqual(vars, tc.vars) {
			t.Errorf("ciPushOptions(%q) = %v, %+v; want %v, %+v", tc.opts, skip, vars, tc.skip, tc.vars)
		}
	}
}

func TestPushPipeline(t *testing.T) {
	vars := []variable{{"TRAINYARD", "true", "env_var"}}
	car := map[string]bool{"car": true}
	withVars := pushRequest{branches: car, vars: vars}
	for _, tc := range []struct {
		name   string
		ci     CI
		push   pushRequest
		branch string
		start  bool
		vars   []variable
	}{
		{"variables", CI{}, withVars, "car", true, vars},
		{"variables, branch of another push", CI{}, withVars, "other", false, nil},
		{"variables, branch of another push, OnPush", CI{OnPush: true}, withVars, "other", true, nil},
		{"skip", CI{OnPush: true}, pushRequest{branches: car, skipCI: true, vars: vars}, "car", false, nil},
		{"skip, branch of another push", CI{OnPush: true}, pushRequest{branches: car, skipCI: true}, "other", true, nil},
		{"APIOnly", CI{APIOnly: true, OnPush: true}, withVars, "car", false, nil},
		{"no options", CI{}, pushRequest{}, "car", false, nil},
		{"no options, OnPush", CI{OnPush: true}, pushRequest{}, "car", true, nil},
	} {
		f := &Forge{opts: Options{CI: tc.ci}}
		start, got := f.pushPipeline(tc.push, tc.branch)
		if start != tc.start || !reflect.DeepEqual(got, tc.vars) {
			t.Errorf("%s: pushPipeline = %v, %+v; want %v, %+v", tc.name, start, got, tc.start, tc.vars)
		}
	}
}

// FuzzParsePushRequest: whatever the body, parsing does not panic, and a
// request it cannot read has no options.
func FuzzParsePushRequest(f *testing.F) {
	body, _ := pushBody(" push-options", carOptions...)
	f.Add(body, false)
	f.Add([]byte("0000"), false)
	f.Add(body[:30], false)
	f.Fuzz(func(t *testing.T, body []byte, zipped bool) {
		enc := ""
		if zipped {
			enc = "gzip"
		}
		got, err := parsePushRequest(body, enc)
		if err != nil && !reflect.DeepEqual(got, pushRequest{}) {
			t.Fatalf("parsePushRequest = %+v with error %v", got, err)
		}
	})
}

// A request naming more options than any client sends is read as one
// with none, not held in memory.
func TestParsePushRequestBoundsOptions(t *testing.T) {
	const caps = " report-status push-options"
	opts := make([]string, maxPushOptions+1)
	for i := range opts {
		opts[i] = "ci.variable=A=1"
	}
	body, _ := pushBody(caps, opts...)
	got, err := parsePushRequest(body, "")
	if err == nil || got.vars != nil || got.skipCI {
		t.Fatalf("%d options: %+v, %v; want none and an error", len(opts), got, err)
	}
	body, _ = pushBody(caps, opts[:maxPushOptions]...)
	if got, err := parsePushRequest(body, ""); err != nil || len(got.vars) != 1 {
		t.Fatalf("%d options: %+v, %v; want them read", maxPushOptions, got, err)
	}
	// The command section is bounded too.
	commands := func(n int) []byte {
		var b strings.Builder
		b.WriteString(pkt(zeroSHA + " " + shaA + " refs/heads/b0\x00" + caps))
		for i := 1; i < n; i++ {
			b.WriteString(pkt(fmt.Sprintf("%s %s refs/heads/b%d", zeroSHA, shaA, i)))
		}
		b.WriteString("0000")
		b.WriteString(pkt("ci.skip"))
		b.WriteString("0000")
		return []byte(b.String())
	}
	if got, err := parsePushRequest(commands(maxPushCommands+1), ""); err == nil || got.branches != nil || got.skipCI {
		t.Fatalf("%d commands: %d branches, skip %v, %v; want none and an error", maxPushCommands+1, len(got.branches), got.skipCI, err)
	}
	if got, err := parsePushRequest(commands(maxPushCommands), ""); err != nil || len(got.branches) != maxPushCommands || !got.skipCI {
		t.Fatalf("%d commands: %d branches, skip %v, %v; want them all read", maxPushCommands, len(got.branches), got.skipCI, err)
	}
}

// Two pushes may land before either rescans, and the first rescan then
// sees both moves: each move takes the options of the push that named
// its branch, and a push's branch that did not move keeps none.
func TestPendingPushesGoToTheirOwnMoves(t *testing.T) {
	f := &Forge{}
	p := &project{}
	a := &pushRequest{branches: map[string]bool{"a": true, "refused": true}, vars: []variable{{Key: "X", Value: "1"}}}
	b := &pushRequest{branches: map[string]bool{"b": true}, skipCI: true}
	f.notePush(p, a)
	f.notePush(p, b)
	if got := f.takePush(p, "b"); !got.skipCI || !got.branches["b"] {
		t.Fatalf("b's move took %+v, want b's push", got)
	}
	if got := f.takePush(p, "a"); len(got.vars) != 1 || got.vars[0].Key != "X" {
		t.Fatalf("a's move took %+v, want a's push", got)
	}
	if got := f.takePush(p, "a"); got.branches != nil {
		t.Fatalf("a's push taken twice: %+v", got)
	}
	f.forgetPush(p, a)
	if got := f.takePush(p, "refused"); got.branches != nil {
		t.Fatalf("a refused branch kept its push's options: %+v", got)
	}
}
