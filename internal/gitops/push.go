package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"
)

// FFResult is the outcome of FastForward.
type FFResult struct {
	// Head is the remote branch head afterwards: `to` on success, or the
	// commit someone else pushed when Rejected.
	Head string
	// Done reports that the branch already was at `to`, as when a
	// fast-forward is repeated after a crash.
	Done bool
	// Rejected reports that the remote refused because its branch is no
	// longer an ancestor of `to`: someone pushed first. Rebuild on Head.
	Rejected bool
	// Deleted reports that the branches FastForwardDeleting was given
	// went with the move.
	Deleted bool
}

// pushStatus is one ref line of git push --porcelain:
// "<flag>\t<from>:<to>\t<summary>".
type pushStatus struct {
	flag    byte
	dst     string
	summary string
}

// CarPush is how a push of a car's commit went.
type CarPush struct {
	// Created: the branch did not exist before.
	Created bool
	// Moved: the branch moved to the commit (Created too); false when it
	// was there already, and the forge saw no push at all.
	Moved bool
}

// PushCar force-pushes commit to the car ref on the remote, with options
// as git push -o gives them (GitLab's ci.variable, say). ref is a branch
// name such as CarRef("", "main", 12), or a full "refs/..." name.
func (r *Repo) PushCar(ctx context.Context, ref, commit string, options ...string) (_ CarPush, err error) {
	defer r.run.scrubErr(&err)
	dst, err := headsRef(ref)
	if err != nil {
		return CarPush{}, fmt.Errorf("push car: %w", err)
	}
	if err := checkSHA(commit); err != nil {
		return CarPush{}, fmt.Errorf("push car %s: %w", dst, err)
	}
	for _, o := range options {
		// git sends each option as one packet line.
		if o == "" || strings.ContainsAny(o, "\x00\n") {
			return CarPush{}, fmt.Errorf("push car %s: push option %q: %w", dst, o, ErrInvalidArgument)
		}
	}
	st, err := r.push(ctx, "+"+commit+":"+dst, dst, options...)
	if err == nil && st.flag == '!' {
		err = pushRefused(st)
	}
	if err != nil {
		return CarPush{}, fmt.Errorf("push car %s at %s: %w", dst, commit, err)
	}
	r.log.Debug("pushed car", zap.String("ref", dst), zap.String("sha", commit))
	return CarPush{Created: st.flag == '*', Moved: st.flag != '='}, nil
}

// DeleteRemoteBranch deletes a branch on the remote; a branch that does not
// exist is already deleted.
func (r *Repo) DeleteRemoteBranch(ctx context.Context, branch string) (err error) {
	defer r.run.scrubErr(&err)
	dst, err := headsRef(branch)
	if err != nil {
		return fmt.Errorf("delete remote branch: %w", err)
	}
	st, err := r.push(ctx, ":"+dst, dst)
	if err != nil && strings.Contains(err.Error(), "remote ref does not exist") {
		return nil
	}
	if err == nil && st.flag == '!' {
		err = pushRefused(st)
	}
	if err != nil {
		return fmt.Errorf("delete remote branch %s: %w", dst, err)
	}
	return nil
}

// FastForward moves the remote branch to `to` with a plain, non-forced push:
// the remote itself refuses anything that is not a fast-forward, which makes
// the push a compare-and-set. A refusal is a result (Rejected, with the new
// remote head), not an error. expectedOld is the head the caller built on;
// a fast-forward from any other ancestor of `to` still succeeds, since `to`
// is the commit that was tested, and is logged. options are push options
// (GitLab's ci.skip), dropped where the remote takes none.
func (r *Repo) FastForward(ctx context.Context, branch, expectedOld, to string, options ...string) (FFResult, error) {
	return r.FastForwardDeleting(ctx, branch, expectedOld, to, nil, options...)
}

// FastForwardDeleting is FastForward that also deletes the branches gone
// on the remote, in the same atomic push: they go only if the branch
// moves, and the move costs no push of its own for them. A branch gone
// already is no error. Where the remote takes no atomic push or refuses
// the push for anything but the move itself (a deletion, or a hook that
// declines it whole), the branch is moved alone. Deleted reports that
// every branch went.
func (r *Repo) FastForwardDeleting(ctx context.Context, branch, expectedOld, to string, gone []string, options ...string) (_ FFResult, err error) {
	defer r.run.scrubErr(&err)
	if err := checkBranch(branch); err != nil {
		return FFResult{}, fmt.Errorf("fast-forward: %w", err)
	}
	if err := checkSHA(to); err != nil {
		return FFResult{}, fmt.Errorf("fast-forward %s: %w", branch, err)
	}
	refs := make([]string, 0, len(gone))
	for _, g := range gone {
		ref, err := headsRef(g)
		if err != nil {
			return FFResult{}, fmt.Errorf("fast-forward %s deleting %q: %w", branch, g, err)
		}
		refs = append(refs, ref)
	}
	res, err := r.fastForward(ctx, branch, expectedOld, to, refs, options)
	if err != nil {
		return FFResult{}, fmt.Errorf("fast-forward %s from %s to %s: %w", branch, expectedOld, to, err)
	}
	return res, nil
}

func (r *Repo) fastForward(ctx context.Context, branch, expectedOld, to string, gone, options []string) (FFResult, error) {
	dst := "refs/heads/" + branch
	refspecs := []string{to + ":" + dst}
	for _, g := range gone {
		refspecs = append(refspecs, ":"+g)
	}
	st, all, err := r.pushRefs(ctx, refspecs, dst, options...)
	if errors.Is(err, ErrNoPushOptions) {
		// Options only spare work (GitLab's ci.skip): the move matters.
		st, all, err = r.pushRefs(ctx, refspecs, dst)
	}
	if len(gone) > 0 && (errors.Is(err, errNoAtomic) || err == nil && st.flag == '!' && (strings.Contains(st.summary, "atomic") || strings.HasPrefix(st.summary, "[remote rejected]"))) {
		// Refused, perhaps for the deletions (an atomic failure, or a
		// hook that declines the whole push): the move must not wait on
		// housekeeping. A move refused for itself is refused again.
		r.log.Info("fast-forward with deletions refused; moved alone", zap.String("branch", branch), zap.String("summary", st.summary), zap.Error(err))
		return r.fastForward(ctx, branch, expectedOld, to, nil, options)
	}
	if err != nil {
		return FFResult{}, err
	}
	// Deleted only when every branch went: a move found done already
	// (a replay) is not sent, and its deletions may fail alone.
	deleted := len(gone) > 0
	for _, g := range gone {
		if !slices.ContainsFunc(all, func(s pushStatus) bool { return s.dst == g && s.flag == '-' }) {
			deleted = false
		}
	}
	switch {
	case st.flag == '=':
		return FFResult{Head: to, Done: true, Deleted: deleted}, r.setLocal(ctx, branch, to)
	case st.flag == ' ' || st.flag == '*':
		if old, _, _ := strings.Cut(st.summary, ".."); st.flag == '*' || !strings.HasPrefix(expectedOld, old) {
			r.log.Warn("fast-forward from an unexpected head", zap.String("branch", branch),
				zap.String("expected", expectedOld), zap.String("summary", st.summary), zap.String("sha", to))
		}
		return FFResult{Head: to, Deleted: deleted}, r.setLocal(ctx, branch, to)
	case st.flag == '!' && strings.HasPrefix(st.summary, "[rejected]"):
		head, err := r.FetchBranch(ctx, branch)
		if err != nil {
			return FFResult{}, fmt.Errorf("re-read after rejection (%s): %w", st.summary, err)
		}
		if head == to {
			return FFResult{Head: to, Done: true}, nil
		}
		r.log.Info("fast-forward rejected", zap.String("branch", branch), zap.String("sha", to), zap.String("head", head))
		return FFResult{Head: head, Rejected: true}, nil
	default:
		return FFResult{}, pushRefused(st)
	}
}

// setLocal records a pushed head in the mirror's copy of the branch.
func (r *Repo) setLocal(ctx context.Context, branch, sha string) error {
	if _, err := r.run.output(ctx, "update-ref", LocalBranchRef(branch), sha); err != nil {
		return fmt.Errorf("record %s at %s: %w", branch, sha, err)
	}
	return nil
}

// push runs git push --porcelain with one refspec and returns the status
// line of dst. Exit status 1 (some ref refused) is left to the caller.
func (r *Repo) push(ctx context.Context, refspec, dst string, options ...string) (pushStatus, error) {
	st, _, err := r.pushRefs(ctx, []string{refspec}, dst, options...)
	return st, err
}

// errNoAtomic: the remote takes no atomic push.
var errNoAtomic = errors.New("the remote takes no atomic push")

// pushRefs is push with several refspecs, pushed atomically: all or none.
// It also returns the status of every ref.
func (r *Repo) pushRefs(ctx context.Context, refspecs []string, dst string, options ...string) (pushStatus, []pushStatus, error) {
	auth, err := r.auth.config(ctx)
	if err != nil {
		return pushStatus{}, nil, err
	}
	args := []string{"push", "--porcelain", "--no-verify"}
	if len(refspecs) > 1 {
		args = append(args, "--atomic")
	}
	for _, o := range options {
		args = append(args, "--push-option="+o)
	}
	res, err := r.run.run(ctx, call{
		args:    append(append(args, remoteName), refspecs...),
		config:  auth,
		okCodes: []int{1},
	})
	// Over HTTP git exits 1 with no ref status when the remote takes no
	// push options; over other transports, 128.
	if len(options) > 0 && strings.Contains(string(res.stderr), "fatal: the receiving end does not support push options") {
		return pushStatus{}, nil, fmt.Errorf("git push: %w: %s", ErrNoPushOptions, strings.TrimSpace(string(res.stderr)))
	}
	if len(refspecs) > 1 && strings.Contains(string(res.stderr), "does not support --atomic push") {
		return pushStatus{}, nil, fmt.Errorf("git push: %w: %s", errNoAtomic, strings.TrimSpace(string(res.stderr)))
	}
	if err != nil {
		return pushStatus{}, nil, err
	}
	all := parsePorcelain(string(res.stdout))
	for _, st := range all {
		if st.dst == dst {
			return st, all, nil
		}
	}
	return pushStatus{}, nil, fmt.Errorf("git push: no status for %s (exit %d): %s",
		dst, res.code, strings.TrimSpace(string(res.stderr)))
}

func parsePorcelain(out string) []pushStatus {
	var sts []pushStatus
	for _, line := range strings.Split(out, "\n") {
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 || len(parts[0]) != 1 {
			continue
		}
		_, dst, _ := strings.Cut(parts[1], ":")
		sts = append(sts, pushStatus{flag: parts[0][0], dst: dst, summary: parts[2]})
	}
	return sts
}

func pushRefused(st pushStatus) error {
	if strings.HasPrefix(st.summary, "[remote rejected]") {
		return fmt.Errorf("%w: %s", ErrRemoteRejected, st.summary)
	}
	return fmt.Errorf("push %s refused: %s", st.dst, st.summary)
}

// headsRef turns a branch name into refs/heads/<name>; a full ref is kept.
func headsRef(ref string) (string, error) {
	if strings.HasPrefix(ref, "refs/") {
		return ref, checkFullRef(ref)
	}
	return "refs/heads/" + ref, checkBranch(ref)
}
