package fakeforge

import (
	"fmt"
	"net/http"
	"path"
	"strings"
)

// Control endpoints that write commits: opening an MR and pushing.

// failMarkerContent is what the CI failure marker file holds; one text
// for every MR, so two failing MRs never conflict over it.
const failMarkerContent = "this change fails CI\n"

// maxConflictFiles bounds the files rewritten to conflict with an MR.
const maxConflictFiles = 50

func (c *control) openMR(r *http.Request) (int, any, error) {
	p, err := c.project(r)
	if err != nil {
		return 0, nil, err
	}
	var req OpenMRRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Target == "" {
		req.Target = p.DefaultBranch
	}
	for _, err := range []error{
		validBranch("source_branch", req.Source), validBranch("target_branch", req.Target),
		validUsername("author", req.Author), validText("title", req.Title, maxTitleLen),
		validText("description", req.Description, maxControlBody), validFiles("files", req.Files, nil),
	} {
		if err != nil {
			return 0, nil, err
		}
	}
	if req.Source == req.Target {
		return 0, nil, badInput("source_branch %q: must differ from target_branch", req.Source)
	}
	if _, err := c.f.BranchHead(r.Context(), p.Path, req.Target); err != nil {
		return 0, nil, notFound("target_branch %s of %s not found", req.Target, p.Path)
	}
	mrs, err := c.f.MRs(p.Path)
	if err != nil {
		return 0, nil, err
	}
	for _, m := range mrs {
		if m.State == StateOpened && m.Source == req.Source && m.Target == req.Target {
			return 0, nil, conflict("merge request !%d from %s into %s is open already", m.IID, m.Source, m.Target)
		}
	}
	files := map[string]string{}
	if req.ConflictsWith != 0 {
		if files, err = c.conflictFiles(r, p, mrs, req.ConflictsWith, req.Source); err != nil {
			return 0, nil, err
		}
	}
	for name, content := range req.Files {
		files[name] = content
	}
	if req.Fail {
		files[c.f.opts.CI.FailMarker] = failMarkerContent
	}
	if len(files) == 0 {
		files["changes/"+req.Source+".txt"] = req.Source + "\n"
	}
	title := req.Title
	if title == "" {
		title = req.Source
	}
	m, err := c.f.CreateMR(r.Context(), p.Path, MRSpec{
		Source: req.Source, Target: req.Target, Title: title, Description: req.Description,
		Author: req.Author, Draft: req.Draft, Commits: []Commit{{Message: title, Files: files}},
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, controlMROf(m), nil
}

// conflictFiles rewrites the files open MR iid changes, with a text that
// names source, so a tree cannot hold both MRs. The fail marker is left
// out: conflicting must not also fail CI.
func (c *control) conflictFiles(r *http.Request, p Project, mrs []MR, iid int64, source string) (map[string]string, error) {
	var other *MR
	for i := range mrs {
		if mrs[i].IID == iid {
			other = &mrs[i]
		}
	}
	switch {
	case iid < 0:
		return nil, badInput("conflicts_with %d: want the iid of an open merge request", iid)
	case other == nil:
		return nil, notFound("conflicts_with: merge request !%d of %s not found", iid, p.Path)
	case other.State != StateOpened:
		return nil, badInput("conflicts_with: merge request !%d is %s; a conflict needs an open one", iid, other.State)
	}
	base, err := c.f.BranchHead(r.Context(), p.Path, other.Target)
	if err != nil {
		return nil, fmt.Errorf("conflict with !%d: %w", iid, err)
	}
	out, err := c.f.repo(p.Path).run(r.Context(), "", nil, "diff", "--name-only", "-z", "--no-renames", base+"..."+other.SHA)
	if err != nil {
		return nil, fmt.Errorf("conflict with !%d: %w", iid, err)
	}
	files := map[string]string{}
	for name := range strings.SplitSeq(strings.TrimRight(out, "\x00"), "\x00") {
		if name == "" || path.Base(name) == c.f.opts.CI.FailMarker || len(files) == maxConflictFiles {
			continue
		}
		files[name] = fmt.Sprintf("%s: conflicts with !%d\n", source, iid)
	}
	if len(files) == 0 {
		return nil, badInput("conflicts_with: merge request !%d changes no file to conflict over", iid)
	}
	return files, nil
}

// commitOf validates a push and returns its one commit.
func (c *control) commitOf(req PushRequest) (Commit, error) {
	if err := validFiles("files", req.Files, req.Delete); err != nil {
		return Commit{}, err
	}
	if err := validText("message", req.Message, maxControlBody); err != nil {
		return Commit{}, err
	}
	if len(req.Files) == 0 && len(req.Delete) == 0 && !req.Fail {
		return Commit{}, badInput("nothing to push: give files, delete or fail")
	}
	files := map[string]string{}
	for name, content := range req.Files {
		files[name] = content
	}
	if req.Fail {
		files[c.f.opts.CI.FailMarker] = failMarkerContent
	}
	return Commit{Message: req.Message, Files: files, Delete: req.Delete}, nil
}

// pushMR pushes a commit to an MR's source branch, as its author unless
// the request names another pusher.
func (c *control) pushMR(r *http.Request) (int, any, error) {
	p, m, err := c.mr(r)
	if err != nil {
		return 0, nil, err
	}
	var req PushRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Branch != "" && req.Branch != m.Source {
		return 0, nil, badInput("branch %q: a push to !%d goes to its source branch %s; leave branch out", req.Branch, m.IID, m.Source)
	}
	if req.Author != "" {
		if err := validUsername("author", req.Author); err != nil {
			return 0, nil, err
		}
	}
	commit, err := c.commitOf(req)
	if err != nil {
		return 0, nil, err
	}
	var sha string
	if req.Author == "" {
		sha, err = c.f.PushToMR(r.Context(), p.Path, m.IID, commit)
	} else {
		sha, err = c.f.PushBranch(r.Context(), p.Path, m.Source, req.Author, commit)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, ControlPush{Project: p.Path, Branch: m.Source, SHA: sha}, nil
}

// pushBranch pushes a commit to any branch, the default one when the
// request names none, as a push from outside any MR would.
func (c *control) pushBranch(r *http.Request) (int, any, error) {
	p, err := c.project(r)
	if err != nil {
		return 0, nil, err
	}
	var req PushRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Branch == "" {
		req.Branch = p.DefaultBranch
	}
	if err := validBranch("branch", req.Branch); err != nil {
		return 0, nil, err
	}
	if err := validUsername("author", req.Author); err != nil {
		return 0, nil, err
	}
	commit, err := c.commitOf(req)
	if err != nil {
		return 0, nil, err
	}
	sha, err := c.f.PushBranch(r.Context(), p.Path, req.Branch, req.Author, commit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, ControlPush{Project: p.Path, Branch: req.Branch, SHA: sha}, nil
}
