package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// Limits on what one add may make the engine read: an MR's dependencies,
// the MRs walked looking for a cycle, and the depth of a stack.
const (
	maxDepends   = 10
	maxDependsOn = 30
	maxStack     = 10
)

// dependsLine matches a "Depends-On:" line of a description, in any case,
// as Zuul reads commit footers.
func dependsLine() *regexp.Regexp {
	return regexp.MustCompile(`(?im)^[ \t]*depends-on:[ \t]*(.*)$`)
}

// dependsRefs returns the references of every Depends-On line, as
// written: "!12", "#12", "group/app!12".
func dependsRefs(description string) []string {
	var refs []string
	for _, m := range dependsLine().FindAllStringSubmatch(description, -1) {
		refs = append(refs, strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' })...)
	}
	return refs
}

// parseRef reads a reference to an MR of project: the forge's own sigil
// ("!12" on GitLab, "#12" on GitHub), optionally after the project's
// path. The error says what is wrong, quoting the reference safely.
func (e *Engine) parseRef(project, ref string) (int64, error) {
	sigil := strings.TrimSuffix(e.cfg.Profile.Label(0), "0")
	i := strings.LastIndex(ref, sigil)
	if i < 0 {
		return 0, fmt.Errorf("%s is not a reference to a merge request like %s", train.Quote(ref), e.cfg.Profile.Label(12))
	}
	path, num := ref[:i], ref[i+len(sigil):]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s is not a reference to a merge request like %s", train.Quote(ref), e.cfg.Profile.Label(12))
	}
	if path != "" && !forge.SameProject(path, project) {
		return 0, fmt.Errorf("%s is in another project: a merge train holds one project's merge requests", train.Quote(ref))
	}
	return n, nil
}

// dependencies works out what an MR about to be added depends on: the
// open MRs its description names in Depends-On lines, and the MR it is
// stacked on (whose source branch it targets), which makes its train the
// stack's. It returns the train's key (for a stacked MR, the root of the
// stack's), the dependencies, and the branch it is stacked on; or a
// refusal that the author was told.
func (e *Engine) dependencies(ctx context.Context, r Request, mr forge.MR, key train.Key) (train.Key, []train.Dep, string, error) {
	var deps []train.Dep
	stacked := ""
	if parent, root, ok, err := e.stackedOn(ctx, key, mr); err != nil {
		return key, nil, "", err
	} else if ok {
		stacked, key.Branch = mr.TargetBranch, root
		deps = append(deps, train.Dep{MR: parent.IID, Label: e.cfg.Profile.Label(parent.IID)})
	}
	refs := dependsRefs(mr.Description)
	if len(refs) > maxDepends {
		return key, nil, "", e.refuse(ctx, r, fmt.Sprintf("This merge request names %d dependencies; at most %d are followed.", len(refs), maxDepends))
	}
	for _, ref := range refs {
		n, err := e.parseRef(r.Project, ref)
		if err != nil {
			return key, nil, "", e.refuse(ctx, r, "Cannot read the dependencies of this merge request: "+err.Error()+".")
		}
		label := e.cfg.Profile.Label(n)
		switch {
		case n == r.MR:
			return key, nil, "", e.refuse(ctx, r, "This merge request depends on itself ("+label+").")
		case slices.ContainsFunc(deps, func(d train.Dep) bool { return d.MR == n }):
			continue
		}
		dep, err := e.forge.MergeRequest(ctx, r.Project, n)
		switch {
		case errors.Is(err, forge.ErrNotFound):
			return key, nil, "", e.refuse(ctx, r, "This merge request depends on "+label+", which does not exist.")
		case err != nil:
			return key, nil, "", fmt.Errorf("dependency %s of !%d of %s: %w", label, r.MR, r.Project, err)
		case dep.State == forge.StateMerged:
			continue
		case dep.State != forge.StateOpened:
			return key, nil, "", e.refuse(ctx, r, fmt.Sprintf("This merge request depends on %s, which is %s.", label, dep.State))
		}
		deps = append(deps, train.Dep{MR: n, Label: label})
	}
	if cycle, err := e.cycle(ctx, r, mr); err != nil {
		return key, nil, "", err
	} else if cycle != "" {
		return key, nil, "", e.refuse(ctx, r, "This merge request's dependencies make a cycle, which can never merge: "+cycle+".")
	}
	return key, deps, stacked, nil
}

// branchLister is a Policy that tells the branches a project's
// configuration names for trains.
type branchLister interface {
	BranchListed(project, branch string) bool
}

// stackedOn finds the open MR whose source branch mr targets, when that
// MR is on a train: mr is then stacked on it, and its train is the root
// branch the stack merges into. A target branch that the configuration
// names for trains, or that has a train of its own, is never taken for a
// stack, and costs no request.
func (e *Engine) stackedOn(ctx context.Context, key train.Key, mr forge.MR) (forge.MR, string, bool, error) {
	stacks, ok := e.forge.(forge.StackReader)
	if !ok {
		return forge.MR{}, "", false, nil
	}
	if l, ok := e.cfg.Policy.(branchLister); ok && l.BranchListed(key.Project, key.Branch) {
		return forge.MR{}, "", false, nil
	}
	if has, err := e.store.Exists(ctx, key); err != nil || has {
		return forge.MR{}, "", false, err
	}
	parent, found, err := stacks.OpenMRFromBranch(ctx, key.Project, mr.TargetBranch)
	if err != nil || !found {
		return forge.MR{}, "", false, err
	}
	// The parent's train: its own target, or its stack's root.
	branch := parent.TargetBranch
	for range maxStack {
		k := train.Key{Forge: key.Forge, Project: key.Project, Branch: branch}
		t, err := e.store.Load(ctx, k)
		if err == nil && t.Index(parent.IID) >= 0 {
			return parent, branch, true, nil
		}
		// The parent may be stacked itself: its train is further down.
		grand, found, err := stacks.OpenMRFromBranch(ctx, key.Project, branch)
		if err != nil || !found {
			return forge.MR{}, "", false, err
		}
		branch = grand.TargetBranch
	}
	return forge.MR{}, "", false, nil
}

// cycle follows the Depends-On lines from mr and returns the path of a
// cycle back to it ("!5 → !7 → !5"), or "".
func (e *Engine) cycle(ctx context.Context, r Request, mr forge.MR) (string, error) {
	type node struct {
		mr   int64
		path []int64
	}
	seen := map[int64]bool{r.MR: true}
	queue := []node{{mr: r.MR, path: []int64{r.MR}}}
	descs := map[int64]string{r.MR: mr.Description}
	for len(queue) > 0 && len(seen) <= maxDependsOn {
		n := queue[0]
		queue = queue[1:]
		desc, ok := descs[n.mr]
		if !ok {
			m, err := e.forge.MergeRequest(ctx, r.Project, n.mr)
			if errors.Is(err, forge.ErrNotFound) {
				continue
			}
			if err != nil {
				return "", fmt.Errorf("dependencies of !%d of %s: %w", n.mr, r.Project, err)
			}
			if m.State != forge.StateOpened {
				continue // a merged or closed MR waits for nothing
			}
			desc = m.Description
		}
		for _, ref := range dependsRefs(desc) {
			next, err := e.parseRef(r.Project, ref)
			if err != nil {
				continue
			}
			path := append(slices.Clone(n.path), next)
			if next == r.MR {
				labels := make([]string, len(path))
				for i, id := range path {
					labels[i] = e.cfg.Profile.Label(id)
				}
				return strings.Join(labels, " → "), nil
			}
			if !seen[next] {
				seen[next] = true
				queue = append(queue, node{mr: next, path: path})
			}
		}
	}
	return "", nil
}
