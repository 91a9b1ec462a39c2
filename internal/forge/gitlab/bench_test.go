package gitlab

import (
	"context"
	"testing"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

// BenchmarkMergeRequest measures one call through the client, the GitLab
// Go client and the fake forge's REST API.
func BenchmarkMergeRequest(b *testing.B) {
	_, c, mr := benchEnv(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.MergeRequest(ctx, project, mr.IID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNotes200 measures listing 200 notes (two pages).
func BenchmarkNotes200(b *testing.B) {
	f, c, mr := benchEnv(b)
	ctx := context.Background()
	for range 200 {
		if _, err := f.AddNote(ctx, project, mr.IID, "carol", "note"); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		notes, err := c.Notes(ctx, project, mr.IID)
		if err != nil || len(notes) != 200 {
			b.Fatalf("%d notes, %v", len(notes), err)
		}
	}
}

func benchEnv(b *testing.B) (*fakeforge.Forge, *Client, fakeforge.MR) {
	b.Helper()
	f, err := fakeforge.New(fakeforge.Options{Dir: b.TempDir(), Tokens: map[string]string{token: "trainbot"}})
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	ctx := context.Background()
	if _, err := f.CreateProject(ctx, project, nil); err != nil {
		b.Fatal(err)
	}
	mr, err := f.CreateMR(ctx, project, fakeforge.MRSpec{Source: "s", Author: "alice", Commits: []fakeforge.Commit{{Files: map[string]string{"s": "s"}}}})
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Options{BaseURL: f.URL(), Token: token})
	if err != nil {
		b.Fatal(err)
	}
	return f, c, mr
}
