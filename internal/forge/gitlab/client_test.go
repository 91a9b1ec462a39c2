package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/retry"
	"github.com/trainyard/trainyard/internal/train"
)

const (
	token   = "glpat-7Yx2kQ9vTb3wZr8mN4sP"
	project = "acme/widgets"
)

func newForge(t *testing.T, mutate func(*fakeforge.Options)) *fakeforge.Forge {
	t.Helper()
	opts := fakeforge.Options{Dir: t.TempDir(), Tokens: map[string]string{token: "trainbot"}, Seed: 5}
	if mutate != nil {
		mutate(&opts)
	}
	f, err := fakeforge.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.CreateProject(context.Background(), project, nil); err != nil {
		t.Fatal(err)
	}
	return f
}

// fast retries keep tests quick; the rules are the same.
func newClient(t *testing.T, f *fakeforge.Forge, mutate func(*Options)) *Client {
	t.Helper()
	opts := Options{BaseURL: f.URL(), Token: token, Timeout: 5 * time.Second, MaxWait: 10 * time.Second,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond}
	if mutate != nil {
		mutate(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openMR(t *testing.T, f *fakeforge.Forge, source string, files map[string]string) fakeforge.MR {
	t.Helper()
	mr, err := f.CreateMR(context.Background(), project, fakeforge.MRSpec{Source: source, Title: "Add " + source, Author: "alice", Commits: []fakeforge.Commit{{Files: files}}})
	if err != nil {
		t.Fatal(err)
	}
	return mr
}

func TestMergeRequest(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	want := openMR(t, f, "feature", map[string]string{"a": "a"})
	draft, err := f.CreateMR(context.Background(), project, fakeforge.MRSpec{Source: "wip", Author: "bob", Draft: true, Commits: []fakeforge.Commit{{Files: map[string]string{"w": "w"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := c.MergeRequest(ctx, project, want.IID)
	if err != nil {
		t.Fatal(err)
	}
	exp := forge.MR{Project: project, IID: want.IID, State: forge.StateOpened, SourceBranch: "feature", TargetBranch: "main",
		HeadSHA: want.SHA, Title: "Add feature", Author: "alice", WebURL: f.URL() + "/acme/widgets/-/merge_requests/1"}
	if got != exp {
		t.Fatalf("MergeRequest = %+v\nwant %+v", got, exp)
	}
	if got, err := c.MergeRequest(ctx, project, draft.IID); err != nil || !got.Draft || got.Author != "bob" {
		t.Fatalf("draft MR = %+v, %v", got, err)
	}
	if err := f.CloseMR(ctx, project, draft.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.MergeRequest(ctx, project, draft.IID); got.State != forge.StateClosed {
		t.Fatalf("closed MR state %q", got.State)
	}
	_, err = c.MergeRequest(ctx, project, 42)
	if !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "acme/widgets!42") {
		t.Fatalf("missing MR: %v", err)
	}
}

func TestAccessLevelAndUserID(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	dev := f.AddUser("dev")
	f.SetAccess(project, "dev", fakeforge.Maintainer)
	stranger := f.AddUser("stranger")

	id, err := c.UserID(ctx, "dev")
	if err != nil || id != dev.ID {
		t.Fatalf("UserID(dev) = %d, %v; want %d", id, err, dev.ID)
	}
	if _, err := c.UserID(ctx, "nobody"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("UserID(nobody): %v", err)
	}
	if l, err := c.AccessLevel(ctx, project, dev.ID); err != nil || l != forge.Maintainer {
		t.Fatalf("AccessLevel(dev) = %v, %v", l, err)
	}
	if l, err := c.AccessLevel(ctx, project, stranger.ID); err != nil || l != forge.NoAccess {
		t.Fatalf("AccessLevel(stranger) = %v, %v", l, err)
	}
}

func TestPipelines(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	c := newClient(t, f, nil)
	ctx := context.Background()
	head, err := f.PushBranch(ctx, project, "train/main/1", "alice", fakeforge.Commit{Files: map[string]string{"x": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.CreatePipeline(ctx, project, "train/main/1", map[string]string{"TRAIN_MRS": "1 2", "TRAIN": "main"})
	if err != nil {
		t.Fatal(err)
	}
	if p.SHA != head || p.Ref != "train/main/1" || p.Status != train.PipelinePending || p.CreatedAt.IsZero() || !p.FinishedAt.IsZero() {
		t.Fatalf("CreatePipeline = %+v", p)
	}
	fp, _ := f.Pipelines(project)
	if len(fp) != 1 || fp[0].Variables["TRAIN_MRS"] != "1 2" || fp[0].Variables["TRAIN"] != "main" {
		t.Fatalf("forge pipelines = %+v", fp)
	}
	list, err := c.PipelinesFor(ctx, project, "train/main/1", head)
	if err != nil || len(list) != 1 || list[0].ID != p.ID {
		t.Fatalf("PipelinesFor = %+v, %v", list, err)
	}
	if list, err := c.PipelinesFor(ctx, project, "train/main/1", strings.Repeat("0", 40)); err != nil || len(list) != 0 {
		t.Fatalf("PipelinesFor(other sha) = %+v, %v", list, err)
	}
	if err := f.FinishPipeline(ctx, p.ID, fakeforge.PipelineSuccess); err != nil {
		t.Fatal(err)
	}
	var got forge.Pipeline
	deadline := time.Now().Add(10 * time.Second)
	for got.Status != train.PipelineSuccess && time.Now().Before(deadline) {
		if got, err = c.Pipeline(ctx, project, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got.Status != train.PipelineSuccess || got.FinishedAt.IsZero() {
		t.Fatalf("finished pipeline = %+v", got)
	}

	second, err := c.CreatePipeline(ctx, project, "train/main/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if stopped, err := c.CancelPipeline(ctx, project, second.ID); err != nil || !stopped {
		t.Fatalf("cancel a running pipeline: stopped %v, %v", stopped, err)
	}
	if got, _ := c.Pipeline(ctx, project, second.ID); got.Status != train.PipelineCanceled {
		t.Fatalf("cancelled pipeline status %q", got.Status)
	}
	// A finished pipeline stays as it is, and the cancel says so.
	if stopped, err := c.CancelPipeline(ctx, project, p.ID); err != nil || stopped {
		t.Fatalf("cancel a finished pipeline: stopped %v, %v", stopped, err)
	}
	if got, _ := c.Pipeline(ctx, project, p.ID); got.Status != train.PipelineSuccess {
		t.Fatalf("finished pipeline status after a cancel %q", got.Status)
	}
	if list, _ := c.PipelinesFor(ctx, project, "train/main/1", head); len(list) != 2 || list[0].ID != second.ID {
		t.Fatalf("PipelinesFor after two = %+v", list)
	}
	if _, err := c.Pipeline(ctx, project, 999); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("missing pipeline: %v", err)
	}
	if _, err := c.CreatePipeline(ctx, project, "no-such-ref", nil); err == nil || errors.Is(err, retry.ErrGaveUp) {
		t.Fatalf("pipeline on a missing ref: %v", err)
	}
}

func TestCommentsAndNotes(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if _, err := f.AddNote(ctx, project, mr.IID, "carol", "/train add"); err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		if err := c.Comment(ctx, project, mr.IID, fmt.Sprintf("note %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	notes, err := c.Notes(ctx, project, mr.IID)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 121 || notes[0].Body != "/train add" || notes[0].Author != "carol" ||
		notes[1].Body != "note 0" || notes[120].Body != "note 119" || notes[120].Author != "trainbot" {
		t.Fatalf("Notes: %d notes, first %+v last %+v", len(notes), notes[0], notes[len(notes)-1])
	}
	if calls := f.Calls()["GET /projects/{id}/merge_requests/{iid}/notes"]; calls != 2 {
		t.Fatalf("listing 121 notes took %d pages, want 2", calls)
	}
	if err := c.Comment(ctx, project, 77, "x"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("comment on a missing MR: %v", err)
	}
}

func TestBranches(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	head, err := f.PushBranch(ctx, project, "train/main/7", "alice", fakeforge.Commit{Files: map[string]string{"x": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.BranchHead(ctx, project, "train/main/7"); err != nil || got != head {
		t.Fatalf("BranchHead = %q, %v; want %s", got, err, head)
	}
	for range 2 {
		if err := c.DeleteBranch(ctx, project, "train/main/7"); err != nil {
			t.Fatalf("DeleteBranch: %v", err)
		}
	}
	if _, err := c.BranchHead(ctx, project, "train/main/7"); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("deleted branch: %v", err)
	}
	if got := c.CloneURL(project); got != f.CloneURL(project) {
		t.Fatalf("CloneURL = %q, want %q", got, f.CloneURL(project))
	}
}

func TestNew(t *testing.T) {
	for _, bad := range []Options{
		{BaseURL: "", Token: token},
		{BaseURL: "gitlab.example.com", Token: token},
		{BaseURL: "ftp://gitlab.example.com", Token: token},
		{BaseURL: "https://gitlab.example.com"},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
	for base, want := range map[string]string{
		"https://gitlab.example.com":           "https://gitlab.example.com/g/p.git",
		"https://gitlab.example.com/api/v4/":   "https://gitlab.example.com/g/p.git",
		"http://10.0.0.1:8080/gitlab/api/v4":   "http://10.0.0.1:8080/gitlab/g/p.git",
		" https://gitlab.example.com/gitlab/ ": "https://gitlab.example.com/gitlab/g/p.git",
	} {
		c, err := New(Options{BaseURL: base, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.CloneURL("g/p"); got != want {
			t.Errorf("CloneURL with base %q = %q, want %q", base, got, want)
		}
	}
}

func TestPipelineState(t *testing.T) {
	for in, want := range map[string]train.PipelineState{
		"created": train.PipelinePending, "waiting_for_resource": train.PipelinePending, "preparing": train.PipelinePending,
		"pending": train.PipelinePending, "scheduled": train.PipelinePending, "manual": train.PipelinePending,
		"running": train.PipelineRunning, "canceling": train.PipelineCanceled, "success": train.PipelineSuccess,
		"failed": train.PipelineFailed, "canceled": train.PipelineCanceled, "skipped": train.PipelineSkipped,
	} {
		if got := PipelineState(in); got != want {
			t.Errorf("PipelineState(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCloseMR(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "squashed", map[string]string{"s": "s"})
	for range 2 { // closing a closed MR changes nothing
		if err := c.CloseMR(ctx, project, mr.IID); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := f.MR(project, mr.IID); err != nil || got.State != fakeforge.StateClosed {
		t.Fatalf("MR after CloseMR: %+v, %v", got, err)
	}
	if err := c.CloseMR(ctx, project, 99); !errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("closing a missing MR: %v", err)
	}
}

func TestRefusalsAreRejections(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	_, err := c.CreatePipeline(context.Background(), project, "no-such-branch", nil)
	if !errors.Is(err, forge.ErrRejected) || errors.Is(err, retry.ErrGaveUp) {
		t.Fatalf("pipeline for a missing ref: %v, want a rejection", err)
	}
	// GitLab's {"message": {"base": ["Reference not found"]}}, in its words.
	if got := forge.Said(err); got != "Reference not found" {
		t.Fatalf("the forge said %q, want %q", got, "Reference not found")
	}
	if calls := f.Calls()["POST /projects/{id}/pipeline"]; calls != 1 {
		t.Fatalf("%d create calls, want 1: a refusal is not retried", calls)
	}
}
