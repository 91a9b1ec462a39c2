package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
	// Maintenance runs every maintainEvery fetches (see maintain), not
	// after each: a git process per fetch for a check that finds nothing
	// to do almost always.
	args := append([]string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--no-auto-maintenance", remoteName}, refspecs...)
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
	r.maintain(ctx)
	return nil
}

// Git's maintenance (which packs loose objects and prunes old unreachable
// ones when there are enough of them) runs on the first fetch after the
// mirror is opened, then every maintainEvery fetches or maintainAfter,
// whichever comes first, bounded by maintainTimeout.
const (
	maintainEvery   = 64
	maintainAfter   = 10 * time.Minute
	maintainTimeout = 5 * time.Minute
)

// maintain runs git's automatic maintenance when it is due. Called with
// fetchMu held. A run that fails is tried again at the next fetch.
func (r *Repo) maintain(ctx context.Context) {
	r.fetches++
	if r.fetches < maintainEvery && time.Since(r.maintainedAt) < maintainAfter {
		return
	}
	// Not cut short by the fetch's caller: an interrupted run would only
	// start again at the next fetch.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), maintainTimeout)
	defer cancel()
	r.known.forget()
	if _, err := r.run.run(ctx, call{args: []string{"maintenance", "run", "--auto", "--quiet"}}); err != nil {
		r.log.Warn("git maintenance", zap.Error(err))
		return
	}
	r.fetches, r.maintainedAt = 0, time.Now()
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
	head, err := r.Head(ctx, localRef)
	if err == nil {
		// Held by the ref just set: only a later fetch that moves the
		// ref, then maintenance, which forgets it, could drop it.
		r.known.add(head, r.known.generation())
	}
	return head, err
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
	if r.known.has(sha) {
		return true
	}
	gen := r.known.generation()
	if _, err := r.run.run(ctx, call{args: []string{"cat-file", "-e", sha + "^{commit}"}}); err != nil {
		return false
	}
	r.known.add(sha, gen)
	return true
}

// stderrOf returns the scrubbed stderr of a failed git command.
func stderrOf(err error) string {
	var gerr *gitError
	if errors.As(err, &gerr) {
		return gerr.stderr
	}
	return ""
}
