package gitlab

import (
	"context"
	"testing"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

// A developer can run a pipeline on a car branch, with variables of
// their own: it is never taken for one of Trainyard's.
func TestPipelinesForListsOnlyTrainyardsOwn(t *testing.T) {
	f := newForge(t, func(o *fakeforge.Options) { o.CI.Manual = true })
	ctx := context.Background()
	const ref = "trainyard/main/1"
	head, err := f.PushBranch(ctx, project, ref, "trainbot", fakeforge.Commit{Files: map[string]string{"x": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	f.AddUser("mallory")
	if err := f.SetAccess(project, "mallory", fakeforge.Developer); err != nil {
		t.Fatal(err)
	}
	f.AddToken("mallory", "glpat-mallory-0000000000")
	mallory := newClient(t, f, func(o *Options) { o.Token = "glpat-mallory-0000000000" })
	theirs, err := mallory.CreatePipeline(ctx, project, ref, map[string]string{"SKIP_TESTS": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.FinishPipeline(ctx, theirs.ID, fakeforge.PipelineSuccess); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, f, nil)
	if list, err := c.PipelinesFor(ctx, project, ref, head); err != nil || len(list) != 0 {
		t.Fatalf("with another user's pipeline only: %+v, %v; want none", list, err)
	}
	ours, err := c.CreatePipeline(ctx, project, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := f.Calls()["GET /user"]
	if before != 1 {
		t.Fatalf("the token's user was read %d times, want once", before)
	}
	for range 2 {
		list, err := c.PipelinesFor(ctx, project, ref, head)
		if err != nil || len(list) != 1 || list[0].ID != ours.ID {
			t.Fatalf("PipelinesFor = %+v, %v; want only %d", list, err, ours.ID)
		}
	}
	if n := f.Calls()["GET /user"] - before; n != 0 {
		t.Fatalf("the token's user was read %d more times", n)
	}
}
