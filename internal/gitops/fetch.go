package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// Fetch runs git fetch from the remote with the given refspecs. Tags are
// never fetched: the mirror only needs what the caller asks for.
func (r *Repo) Fetch(ctx context.Context, refspecs ...string) (err error) {
	defer r.run.scrubErr(&err)
	if len(refspecs) == 0 {
		return fmt.Errorf("fetch: %w: no refspec", ErrInvalidArgument)
	}
	for _, rs := range refspecs {
		if rs == "" || strings.HasPrefix(rs, "-") {
			return fmt.Errorf("fetch %q: %w: bad refspec", rs, ErrInvalidArgument)
		}
	}
	r.fetchMu.Lock()
	defer r.fetchMu.Unlock()
	args := append([]string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", remoteName}, refspecs...)
	auth, err := r.auth.config(ctx)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", strings.Join(refspecs, " "), err)
	}
	if _, err = r.run.run(ctx, call{args: args, config: auth}); err != nil {
		if strings.Contains(stderrOf(err), "couldn't find remote ref") {
			err = fmt.Errorf("%w: %w", ErrRefNotFound, err)
		}
		return fmt.Errorf("fetch %s: %w", strings.Join(refspecs, " "), err)
	}
	r.log.Debug("fetched", zap.Strings("refspecs", refspecs))
	return nil
}

// FetchBranch fetches a remote branch into LocalBranchRef(branch) and
// returns its head.
func (r *Repo) FetchBranch(ctx context.Context, branch string) (_ string, err error) {
	defer r.run.scrubErr(&err)
	if err := checkBranch(branch); err != nil {
		return "", fmt.Errorf("fetch branch: %w", err)
	}
	return r.fetchInto(ctx, "refs/heads/"+branch, LocalBranchRef(branch))
}

// FetchMR fetches an MR ref such as "refs/merge-requests/12/head" (GitLab)
// or "refs/pull/12/head" (GitHub) into LocalMRRef(ref) and returns its head.
func (r *Repo) FetchMR(ctx context.Context, ref string) (_ string, err error) {
	defer r.run.scrubErr(&err)
	if err := checkFullRef(ref); err != nil {
		return "", fmt.Errorf("fetch MR ref: %w", err)
	}
	return r.fetchInto(ctx, ref, LocalMRRef(ref))
}

func (r *Repo) fetchInto(ctx context.Context, remoteRef, localRef string) (string, error) {
	// Forced: a force-pushed MR or a rewritten branch must replace our copy.
	if err := r.Fetch(ctx, "+"+remoteRef+":"+localRef); err != nil {
		return "", err
	}
	return r.Head(ctx, localRef)
}

// Head resolves a local ref (for example LocalBranchRef("main")) to the SHA
// of the commit it points to.
func (r *Repo) Head(ctx context.Context, ref string) (_ string, err error) {
	defer r.run.scrubErr(&err)
	if err := checkFullRef(ref); err != nil {
		return "", fmt.Errorf("resolve: %w", err)
	}
	res, err := r.run.run(ctx, call{args: []string{"rev-parse", "--verify", "--quiet", ref + "^{commit}"}, okCodes: []int{1}})
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", ref, err)
	}
	if res.code != 0 {
		return "", fmt.Errorf("resolve %s: %w", ref, ErrRefNotFound)
	}
	return strings.TrimSpace(string(res.stdout)), nil
}

// HasCommit reports whether the mirror holds the commit sha. Any failure to
// tell counts as "no": the caller's next step is to fetch.
func (r *Repo) HasCommit(ctx context.Context, sha string) bool {
	if checkSHA(sha) != nil {
		return false
	}
	_, err := r.run.run(ctx, call{args: []string{"cat-file", "-e", sha + "^{commit}"}})
	return err == nil
}

// stderrOf returns the scrubbed stderr of a failed git command.
func stderrOf(err error) string {
	var gerr *gitError
	if errors.As(err, &gerr) {
		return gerr.stderr
	}
	return ""
}
