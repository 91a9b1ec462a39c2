package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/train"
)

// remoteRepo is a mirror whose commits arrive with the fetch of the
// branch that holds them on the forge; it logs each fetch's refspecs.
type remoteRepo struct {
	Repo                      // nil: only what ensureCommit uses is here
	on      map[string]string // commit -> the forge's branch holding it
	have    map[string]bool
	fetches [][]string
}

func (r *remoteRepo) HasCommit(_ context.Context, sha string) bool { return r.have[sha] }

func (r *remoteRepo) Fetch(_ context.Context, refspecs ...string) error {
	r.fetches = append(r.fetches, refspecs)
	for sha, branch := range r.on {
		for _, rs := range refspecs {
			src, _, _ := strings.Cut(strings.TrimPrefix(rs, "+"), ":")
			if src == "refs/heads/"+branch || strings.HasSuffix(src, "/*") && strings.HasPrefix("refs/heads/"+branch, strings.TrimSuffix(src, "*")) {
				r.have[sha] = true
			}
		}
	}
	return nil
}

func (r *remoteRepo) FetchBranch(ctx context.Context, branch string) (string, error) {
	return "", r.Fetch(ctx, "+refs/heads/"+branch+":"+gitops.LocalBranchRef(branch))
}

// A commit the mirror lacks, such as the car another replica built that
// the target moves to, comes with the target's branch in one fetch: one
// round trip to the forge, where fetching the target first cost two.
func TestEnsureCommitFetchesTheTargetAndItsCarsAtOnce(t *testing.T) {
	e := &Engine{cfg: Config{CarPrefix: "trainyard"}}
	tr := &train.Train{Key: train.Key{Forge: "gitlab", Project: "g/a", Branch: "main"}}
	car, head, gone := strings.Repeat("c", 40), strings.Repeat("a", 40), strings.Repeat("d", 40)
	for _, tc := range []struct {
		name    string
		sha     string
		have    bool
		fetches int
		err     error
	}{
		{"held already", head, true, 0, nil},
		{"on the target", head, false, 1, nil},
		{"on a car branch", car, false, 1, nil},
		{"nowhere", gone, false, 1, gitops.ErrMissingCommit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := &remoteRepo{on: map[string]string{head: "main", car: "trainyard/main/7"}, have: map[string]bool{tc.sha: tc.have}}
			err := e.ensureCommit(context.Background(), repo, tr, tc.sha)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("ensureCommit: %v, want %v", err, tc.err)
			}
			if len(repo.fetches) != tc.fetches {
				t.Fatalf("%d fetches %q, want %d", len(repo.fetches), repo.fetches, tc.fetches)
			}
			if tc.fetches > 0 && !slices.Equal(repo.fetches[0], []string{"+refs/heads/main:" + gitops.LocalBranchRef("main"), "+refs/heads/trainyard/main/*:refs/trainyard/cars/trainyard/main/*"}) {
				t.Errorf("fetched %q, want the target and its car branches", repo.fetches[0])
			}
		})
	}
}
