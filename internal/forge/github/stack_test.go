package github

import (
	"context"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/forgetest"
)

// The engine finds stacked pull requests through this interface.
var _ forge.StackReader = (*Client)(nil)

func createMR(t *testing.T, f *fakeforge.Forge, spec fakeforge.MRSpec) fakeforge.MR {
	t.Helper()
	if spec.Author == "" {
		spec.Author = "alice"
	}
	if spec.Commits == nil {
		spec.Commits = []fakeforge.Commit{{Files: map[string]string{spec.Source: spec.Source}}}
	}
	mr, err := f.CreateMR(context.Background(), project, spec)
	if err != nil {
		t.Fatal(err)
	}
	return mr
}

func TestDescription(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	const text = "Depends on #1\n\nWhy: *this*."
	mr := createMR(t, f, fakeforge.MRSpec{Source: "feature", Description: text})
	bare := createMR(t, f, fakeforge.MRSpec{Source: "bare"})
	if got, err := c.MergeRequest(ctx, project, mr.IID); err != nil || got.Description != text {
		t.Fatalf("MergeRequest: description %q, %v; want %q", got.Description, err, text)
	}
	if got, err := c.MergeRequest(ctx, project, bare.IID); err != nil || got.Description != "" {
		t.Fatalf("pull request without a body: %q, %v", got.Description, err)
	}
	if rules, err := c.MergeRules(ctx, project, mr.IID, ""); err != nil || rules.MR == nil || rules.MR.Description != text {
		t.Fatalf("MergeRules: MR %+v, %v; want description %q", rules.MR, err, text)
	}
}

func TestOpenMRFromBranch(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	if _, err := f.CreateProject(ctx, "mallory/widgets", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PushBranch(ctx, project, "release", "alice", fakeforge.Commit{Files: map[string]string{"r": "r"}}); err != nil {
		t.Fatal(err)
	}
	// Older than the open pull request of feature, with lower numbers: a
	// closed one of the branch, and a fork's of its own branch called
	// feature.
	closed := createMR(t, f, fakeforge.MRSpec{Source: "feature", Title: "First try"})
	if err := f.CloseMR(ctx, project, closed.IID, "alice"); err != nil {
		t.Fatal(err)
	}
	createMR(t, f, fakeforge.MRSpec{Source: "feature", Fork: "mallory/widgets", Author: "mallory"})
	open := createMR(t, f, fakeforge.MRSpec{Source: "feature", Title: "Add feature", Description: "Stacked on #9"})
	// A second open pull request of the branch, into another base: the
	// older one is the answer.
	createMR(t, f, fakeforge.MRSpec{Source: "feature", Target: "release", Title: "Backport feature"})
	createMR(t, f, fakeforge.MRSpec{Source: "evil", Fork: "mallory/widgets", Author: "mallory"})
	gone := createMR(t, f, fakeforge.MRSpec{Source: "old"})
	if err := f.CloseMR(ctx, project, gone.IID, "alice"); err != nil {
		t.Fatal(err)
	}

	got, ok, err := c.OpenMRFromBranch(ctx, project, "feature")
	if err != nil || !ok {
		t.Fatalf("OpenMRFromBranch(feature) = %v, %v", ok, err)
	}
	head, err := f.BranchHead(ctx, project, "feature")
	if err != nil {
		t.Fatal(err)
	}
	exp := forge.MR{Project: project, IID: open.IID, State: forge.StateOpened, SourceBranch: "feature", TargetBranch: "main",
		HeadSHA: head, Title: "Add feature", Description: "Stacked on #9", Author: "alice",
		WebURL: f.URL() + "/acme/widgets/pull/3"}
	if got != exp {
		t.Fatalf("OpenMRFromBranch(feature) = %+v\nwant %+v", got, exp)
	}
	forgetest.CheckOpenMRs(t, c, project, exp)
	if _, _, err := c.OpenMRFromBranch(ctx, "widgets", "feature"); err == nil || !strings.Contains(err.Error(), "owner/repo") {
		t.Fatalf("repository without an owner: %v", err)
	}
}
