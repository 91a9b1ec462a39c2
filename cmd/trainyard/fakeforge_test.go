package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

const ffControlToken = "cli-control-token-0123456789"

// runFF runs trainyard fakeforge ARGS against f and returns stdout and
// the error.
func runFF(t *testing.T, f *fakeforge.Forge, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCommand(&stdout, &stderr)
	root.SetArgs(append([]string{"fakeforge"}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return stdout.String(), err
}

func TestFakeforgeCLIDrivesARunningForge(t *testing.T) {
	f, err := fakeforge.New(fakeforge.Options{Dir: t.TempDir(), CI: fakeforge.CI{Manual: true, OnPush: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.StartWithControl(context.Background(), ffControlToken); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	t.Setenv("FAKEFORGE_URL", f.URL())
	t.Setenv("FAKEFORGE_TOKEN", ffControlToken)
	must := func(args ...string) string {
		t.Helper()
		out, err := runFF(t, f, args...)
		if err != nil {
			t.Fatalf("trainyard fakeforge %v: %v", args, err)
		}
		return out
	}

	must("project", "create", "acme/app", "--file", "README.md=hi", "--member", "alice=developer")
	must("user", "add", "bob", "--project", "acme/app", "--access", "maintainer")
	out := must("mr", "open", "acme/app", "feature-1", "--author", "alice", "--title", "First", "--file", "a.txt=a")
	if !strings.Contains(out, "!1") || !strings.Contains(out, "First") {
		t.Fatalf("mr open printed %q", out)
	}
	must("mr", "open", "acme/app", "feature-2", "--author", "bob", "--conflicts-with", "1")
	must("mr", "comment", "acme/app", "!1", "/train add", "--author", "alice")
	must("mr", "approve", "acme/app", "1", "--user", "bob")
	if out := must("mr", "review", "acme/app", "1", "--user", "bob", "--state", "changes_requested", "--body", "split it"); !strings.Contains(out, "bob") || !strings.Contains(out, "changes_requested") {
		t.Fatalf("mr review printed %q", out)
	}
	if rs, err := f.Reviews("acme/app", 1); err != nil || len(rs) != 1 || rs[0].State != fakeforge.ReviewChangesRequested || rs[0].Body != "split it" {
		t.Fatalf("reviews = %+v, %v", rs, err)
	}
	must("mr", "push", "acme/app", "1", "-m", "more", "--file", "b.txt=b")
	must("push", "acme/app", "--author", "bob", "--file", "hotfix.txt=fixed")

	var mrs []fakeforge.ControlMR
	if err := json.Unmarshal([]byte(must("mr", "list", "acme/app", "-o", "json")), &mrs); err != nil || len(mrs) != 2 {
		t.Fatalf("mr list: %+v, %v", mrs, err)
	}
	if out := must("mr", "comments", "acme/app", "1"); !strings.Contains(out, "alice (") || !strings.Contains(out, "/train add") {
		t.Fatalf("mr comments printed %q", out)
	}
	notes, err := f.Notes("acme/app", 1)
	if err != nil || len(notes) != 1 || notes[0].Body != "/train add" {
		t.Fatalf("notes = %+v, %v", notes, err)
	}
	if head, _ := f.BranchHead(context.Background(), "acme/app", "feature-1"); head != mrs[1].SHA {
		t.Fatalf("feature-1 at %s, MR at %s", head, mrs[1].SHA)
	}

	var pls []fakeforge.ControlPipeline
	deadline := time.Now().Add(10 * time.Second)
	for len(pls) == 0 && time.Now().Before(deadline) {
		if err := json.Unmarshal([]byte(must("pipeline", "list", "acme/app", "--status", "running", "-o", "json")), &pls); err != nil {
			t.Fatal(err)
		}
	}
	if len(pls) == 0 {
		t.Fatal("no running pipeline")
	}
	must("pipeline", "finish", "acme/app", itoa64(pls[0].ID), "success")
	sha := mrs[1].SHA
	if out := must("commit", "check", "acme/app", sha, "--name", "lint", "--conclusion", "failure"); !strings.Contains(out, "lint completed failure") {
		t.Fatalf("commit check printed %q", out)
	}
	if runs, err := f.CheckRuns("acme/app", sha); err != nil || len(runs) != 1 || runs[0].Name != "lint" || runs[0].Conclusion != fakeforge.ConclusionFailure {
		t.Fatalf("check runs = %+v, %v", runs, err)
	}
	if out := must("commit", "statuses", "acme/app", sha); strings.TrimSpace(out) != "ID  NAME  STATE  DESCRIPTION  LINK" {
		t.Fatalf("commit statuses printed %q, want the header alone", out)
	}
	got, err := f.Pipelines("acme/app")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p.ID == pls[0].ID && p.Status != fakeforge.PipelineSuccess {
			t.Fatalf("pipeline %d is %s", p.ID, p.Status)
		}
	}

	// Errors say what is wrong.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mr", "approve", "acme/app", "9", "--user", "bob"}, "404: merge request !9 of acme/app not found"},
		{[]string{"pipeline", "finish", "acme/app", "1", "green"}, `400: status "green": want success, failed or canceled`},
		{[]string{"mr", "comment", "acme/nope", "1", "hi", "--author", "a"}, "404: project acme/nope not found"},
		{[]string{"project", "list", "--token", "wrong-token-wrong-token"}, "401: 401 Unauthorized"},
		{[]string{"mr", "open", "acme/app", "x"}, `required flag(s) "author" not set`},
		{[]string{"project", "create", "acme/b", "--file", "nofile"}, `--file "nofile": want PATH=CONTENT`},
	} {
		if _, err := runFF(t, f, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("trainyard fakeforge %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	t.Setenv("FAKEFORGE_URL", "")
	if _, err := runFF(t, f, "project", "list"); err == nil || !strings.Contains(err.Error(), "no forge URL") {
		t.Errorf("without a URL: %v", err)
	}
}

func itoa64(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestFakeforgeServes: the forge runs with and without the serve
// subcommand, prints how to reach the control API, and refuses a short
// control token.
func TestFakeforgeServes(t *testing.T) {
	for _, args := range [][]string{{"fakeforge"}, {"fakeforge", "serve"}} {
		var stdout, stderr bytes.Buffer
		root := newRootCommand(&stdout, &stderr)
		root.SetArgs(append(args, "--dir", t.TempDir(), "--control-token", ffControlToken))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := root.ExecuteContext(ctx)
		cancel()
		if err != nil || !strings.Contains(stdout.String(), "FAKEFORGE_TOKEN="+ffControlToken) ||
			!strings.Contains(stdout.String(), "control API at http://127.0.0.1:") {
			t.Fatalf("trainyard %v: %v\n%s", args, err, stdout.String())
		}
	}
	_, err := runFF(t, nil, "--dir", t.TempDir(), "--control-token", "short")
	if err == nil || !strings.Contains(err.Error(), "at least 16 characters") {
		t.Fatalf("short control token: %v", err)
	}
}
