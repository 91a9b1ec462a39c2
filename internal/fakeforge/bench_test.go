package fakeforge

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkGetMergeRequest measures one REST round trip through the real
// client.
func BenchmarkGetMergeRequest(b *testing.B) {
	f := benchForge(b)
	mr, err := f.CreateMR(context.Background(), project1, MRSpec{Source: "s", Author: "alice", Commits: []Commit{{Files: map[string]string{"s": "s"}}}})
	if err != nil {
		b.Fatal(err)
	}
	c := client(b, f, botToken)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := c.MergeRequests.GetMergeRequest(project1, mr.IID, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPushToMR measures writing a commit with plumbing, moving the
// branch and the rescan that follows (MR head, refs, events).
func BenchmarkPushToMR(b *testing.B) {
	f := benchForge(b)
	ctx := context.Background()
	mr, err := f.CreateMR(ctx, project1, MRSpec{Source: "s", Author: "alice", Commits: []Commit{{Files: map[string]string{"s": "s"}}}})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		if _, err := f.PushToMR(ctx, project1, mr.IID, Commit{Files: map[string]string{"n": strconv.Itoa(i)}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipeline measures a pipeline from creation to its result with
// zero CI duration: tree check, status changes, events and the log.
func BenchmarkPipeline(b *testing.B) {
	f := benchForge(b)
	ctx := context.Background()
	f.mu.Lock()
	p := f.st.byPath[project1]
	bot := f.st.usersByName[botName]
	f.mu.Unlock()
	sha, err := f.BranchHead(ctx, project1, "main")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		pl, err := f.startPipeline(ctx, p, bot, "main", sha, "api")
		if err != nil {
			b.Fatal(err)
		}
		for {
			f.mu.Lock()
			done := f.st.pipelines[pl.ID].done()
			f.mu.Unlock()
			if done {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

func benchForge(b *testing.B) *Forge {
	b.Helper()
	f, err := New(Options{Dir: b.TempDir(), Tokens: map[string]string{botToken: botName}})
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	if _, err := f.CreateProject(context.Background(), project1, nil); err != nil {
		b.Fatal(err)
	}
	return f
}
