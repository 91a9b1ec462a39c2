package github

import (
	"context"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
)

// The client satisfies what the engine needs from a forge.
var _ engine.Forge = (*Client)(nil)

const (
	token   = "ghp_7Yx2kQ9vTb3wZr8mN4sPq1Lc5Hd6Jf0Ge2Ra"
	project = "acme/widgets"
	car     = "trainyard/main/1"
)

// newForge is a fake forge whose Actions run ci/test and ci/lint on car
// branches.
func newForge(t *testing.T, mutate func(*fakeforge.Options)) *fakeforge.Forge {
	t.Helper()
	opts := fakeforge.Options{
		Dir: t.TempDir(), Tokens: map[string]string{token: "trainbot"}, Seed: 5,
		CI:     fakeforge.CI{Duration: 5 * time.Millisecond},
		GitHub: fakeforge.GitHub{Actions: fakeforge.Actions{Branches: []string{"trainyard/**"}, Checks: []string{"ci/test", "ci/lint"}}},
	}
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

// newClient is the client on the forge's GitHub API, with fast retries;
// the rules are the same.
func newClient(t *testing.T, f *fakeforge.Forge, mutate func(*Options)) *Client {
	t.Helper()
	opts := Options{BaseURL: f.URL(), Token: token, Timeout: 5 * time.Second, MaxWait: 10 * time.Second,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, RequiredChecks: []string{"ci/test", "ci/lint"}}
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

// pushCar pushes a car branch with files, as the engine's push does.
func pushCar(t *testing.T, f *fakeforge.Forge, branch string, files map[string]string) string {
	t.Helper()
	sha, err := f.PushBranch(context.Background(), project, branch, "trainbot", fakeforge.Commit{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
