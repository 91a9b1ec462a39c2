package gitops

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/train"
)

// Merge methods understood by Build.
const (
	MethodMerge  = "merge"  // a merge commit with parents Base and Head
	MethodSquash = "squash" // one commit on Base with the MR's whole change
	MethodRebase = "rebase" // the MR's commits replayed on Base, linear
)

// BuildRequest asks for the speculative commit of one car: the MR whose head
// is Head, put on top of Base (the target head or the car ahead).
type BuildRequest struct {
	Base, Head   string // full commit SHAs
	Method       string // MethodMerge (the default), MethodSquash or MethodRebase
	SourceBranch string
	TargetBranch string
	Project      string // "group/project", for the message
	Title        string // MR title
	MRRef        string // "!12" (GitLab) or "#12" (GitHub)
	// Time is the author and committer date of the commits Build creates.
	// A fixed time makes the same request produce the same SHA, so a build
	// repeated after a crash yields the commit that may already be on CI.
	Time time.Time
}

// BuildResult is a built commit or a conflict.
type BuildResult struct {
	// Commit is the speculative commit; empty when Conflict is set.
	Commit string
	// Conflict lists the conflicting paths, sorted and unique.
	Conflict []string
	// ConflictCommit is, for the rebase method, the MR commit that did not
	// apply.
	ConflictCommit string
	// UpToDate reports that Base already holds the MR: Commit is Base and
	// no commit was created.
	UpToDate bool
}

// Conflicted reports whether the MR does not apply on Base.
func (b BuildResult) Conflicted() bool { return len(b.Conflict) > 0 }

// Build creates the speculative commit for req without touching any ref. A
// merge conflict is a result, not an error; a Base or Head the mirror lacks
// is an error matching ErrMissingCommit.
//
// Base already holding the MR (Head is an ancestor of Base) gives
// UpToDate with Commit = Base for every method, rather than an empty merge
// commit. A squash whose change is already in Base gives the same.
func (r *Repo) Build(ctx context.Context, req BuildRequest) (_ BuildResult, err error) {
	defer r.run.scrubErr(&err)
	method := defaultString(req.Method, MethodMerge)
	res, err := r.build(ctx, method, req)
	if err != nil {
		return BuildResult{}, fmt.Errorf("build %s%s by %s on %s: %w", req.Project, req.MRRef, method, req.Base, err)
	}
	r.log.Debug("built car", zap.String("mr", req.MRRef), zap.String("sha", res.Commit),
		zap.String("method", method), zap.Strings("conflict", res.Conflict))
	return res, nil
}

func (r *Repo) build(ctx context.Context, method string, req BuildRequest) (BuildResult, error) {
	if err := req.validate(method); err != nil {
		return BuildResult{}, err
	}
	commits, err := r.readCommits(ctx, []string{req.Base, req.Head})
	if err != nil {
		return BuildResult{}, err
	}
	base, head := commits[0], commits[1]
	switch method {
	case MethodMerge:
		return r.buildMerge(ctx, req, base)
	case MethodSquash:
		return r.buildSquash(ctx, req, base, head)
	default:
		return r.buildRebase(ctx, req, base)
	}
}

func (req BuildRequest) validate(method string) error {
	if method != MethodMerge && method != MethodSquash && method != MethodRebase {
		return fmt.Errorf("%w: unknown method %q", ErrInvalidArgument, method)
	}
	if err := checkSHA(req.Base); err != nil {
		return fmt.Errorf("base: %w", err)
	}
	if err := checkSHA(req.Head); err != nil {
		return fmt.Errorf("head: %w", err)
	}
	if req.Time.IsZero() || req.Time.Unix() < 0 {
		return fmt.Errorf("%w: time is not set", ErrInvalidArgument)
	}
	return nil
}

func (r *Repo) buildMerge(ctx context.Context, req BuildRequest, base commitObject) (BuildResult, error) {
	m, err := r.mergeTrees(ctx, req.Base, req.Head, false)
	if err != nil {
		return BuildResult{}, r.whyUnmerged(ctx, req, err)
	}
	if len(m.conflicts) > 0 {
		return BuildResult{Conflict: m.conflicts}, err
	}
	if m.tree == base.tree {
		contained, err := r.isAncestor(ctx, req.Head, req.Base)
		if err != nil || contained {
			return upToDate(req), err
		}
	}
	return r.commitResult(ctx, commitObject{
		tree:    m.tree,
		parents: []string{req.Base, req.Head},
		author:  signature(r.identity, req.Time),
		message: mergeMessage(req),
	}, req.Time)
}

// whyUnmerged tells a merge that failed because the MR shares no history
// with its base (an orphan branch, or one pushed with another history),
// which no retry will mend, from any other failure: it is ErrNoMergeBase.
func (r *Repo) whyUnmerged(ctx context.Context, req BuildRequest, err error) error {
	if ctx.Err() != nil {
		return err
	}
	if related, rerr := r.related(ctx, req.Base, req.Head); rerr == nil && !related {
		return fmt.Errorf("merge %s into %s: %w", req.Head, req.Base, ErrNoMergeBase)
	}
	return err
}

func (r *Repo) buildSquash(ctx context.Context, req BuildRequest, base, head commitObject) (BuildResult, error) {
	m, err := r.mergeTrees(ctx, req.Base, req.Head, false)
	if err != nil {
		return BuildResult{}, r.whyUnmerged(ctx, req, err)
	}
	if len(m.conflicts) > 0 {
		return BuildResult{Conflict: m.conflicts}, err
	}
	if m.tree == base.tree {
		return upToDate(req), nil
	}
	// The MR head's author stands for the MR author, whom the request does
	// not name.
	return r.commitResult(ctx, commitObject{
		tree:    m.tree,
		parents: []string{req.Base},
		author:  withDate(head.author, req.Time),
		message: squashMessage(req),
	}, req.Time)
}

// commitResult writes c with our identity as committer.
func (r *Repo) commitResult(ctx context.Context, c commitObject, t time.Time) (BuildResult, error) {
	c.committer = signature(r.identity, t)
	sha, err := r.writeCommit(ctx, c)
	if err != nil {
		return BuildResult{}, err
	}
	return BuildResult{Commit: sha}, nil
}

func upToDate(req BuildRequest) BuildResult {
	return BuildResult{Commit: req.Base, UpToDate: true}
}

// IsAncestor tells whether ancestor is descendant or one of its
// ancestors. Both commits must be in the mirror.
func (r *Repo) IsAncestor(ctx context.Context, ancestor, descendant string) (bool, error) {
	return r.isAncestor(ctx, ancestor, descendant)
}

func (r *Repo) isAncestor(ctx context.Context, ancestor, descendant string) (bool, error) {
	res, err := r.run.run(ctx, call{args: []string{"merge-base", "--is-ancestor", ancestor, descendant}, okCodes: []int{1}})
	if err != nil {
		return false, fmt.Errorf("is %s an ancestor of %s: %w", ancestor, descendant, err)
	}
	return res.code == 0, nil
}

// mergeMessage follows GitLab's default merge commit template.
func mergeMessage(req BuildRequest) string {
	msg := fmt.Sprintf("Merge branch '%s' into '%s'\n", req.SourceBranch, req.TargetBranch)
	if title := train.TitleLine(req.Title); title != "" {
		msg += "\n" + title + "\n"
	}
	return msg + seeMR(req)
}

// squashMessage follows GitLab's default squash commit template.
func squashMessage(req BuildRequest) string {
	title := train.TitleLine(req.Title)
	if title == "" {
		title = fmt.Sprintf("Squash branch '%s' into '%s'", req.SourceBranch, req.TargetBranch)
	}
	return title + "\n" + seeMR(req)
}

func seeMR(req BuildRequest) string {
	if req.MRRef == "" {
		return ""
	}
	return "\nSee merge request " + req.Project + req.MRRef + "\n"
}
