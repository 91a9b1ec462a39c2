package fakeforge

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// GitHub's webhooks for what happens on the forge: pull requests, their
// comments, check runs and suites, workflow runs, commit statuses and
// pushes. Each is built only when a GitHub webhook is set.

// ghPullActions maps the forge's MR actions to pull_request actions.
var ghPullActions = map[string]string{
	"open": "opened", "update": "synchronize", "close": "closed", "merge": "closed", "reopen": "reopened",
}

// sendGHPull sends a pull_request event for MR iid as it is now; oldrev
// is the head before new commits (synchronize).
func (f *Forge) sendGHPull(ctx context.Context, p *project, iid int64, by *user, action, oldrev string) error {
	if action == "update" {
		// Every move of a pull request's head passes here, hooks or not:
		// it is where GitHub dismisses stale approvals.
		f.dismissStale(p, iid)
	}
	gh, ok := ghPullActions[action]
	if !ok || !f.hooksOn(HookGitHub) {
		return nil
	}
	base, err := f.pullBase(ctx, p, iid)
	if err != nil {
		return err
	}
	f.mu.Lock()
	m := p.mrs[iid]
	payload := obj{
		"action": gh, "number": iid, "pull_request": f.ghPullOf(p, m, base), "repository": f.ghRepoOf(p),
		"installation": f.ghInstallation(), "sender": f.ghUserOf(by),
	}
	if gh == "synchronize" {
		payload["before"], payload["after"] = oldrev, m.SHA
	}
	f.mu.Unlock()
	f.hooks.send(HookGitHub, GHEventPullRequest, payload)
	return nil
}

// sendGHComment sends the issue_comment event of note n on MR iid.
func (f *Forge) sendGHComment(p *project, iid int64, by *user, n *note) {
	if !f.hooksOn(HookGitHub) {
		return
	}
	f.mu.Lock()
	m := p.mrs[iid]
	payload := obj{
		"action": "created", "issue": f.ghIssueOf(p, m), "comment": f.ghCommentOf(p, m, n),
		"repository": f.ghRepoOf(p), "installation": f.ghInstallation(), "sender": f.ghUserOf(by),
	}
	f.mu.Unlock()
	f.hooks.send(HookGitHub, GHEventIssueComment, payload)
}

// sendGHPush sends the push event of a branch move; commits are the ones
// it brought, newest first, and total how many there were.
func (f *Forge) sendGHPush(p *project, by *user, mv branchMove, commits []loggedCommit) {
	if !f.hooksOn(HookGitHub) {
		return
	}
	f.mu.Lock()
	l := f.ghURLs()
	list := []ghPushCommit{}
	for i := len(commits) - 1; i >= 0; i-- {
		list = append(list, f.ghPushCommitOf(p, commits[i]))
	}
	var head any
	if len(list) > 0 {
		head = list[len(list)-1]
	}
	payload := obj{
		"ref": "refs/heads/" + mv.Branch, "before": orZero(mv.Old), "after": orZero(mv.New),
		"repository": f.ghPushRepoOf(p), "pusher": obj{"name": by.Username, "email": by.email()},
		"sender": f.ghUserOf(by), "installation": f.ghInstallation(),
		"created": mv.Old == "", "deleted": mv.New == "", "forced": false, "base_ref": nil,
		"compare": l.web(p.Path + "/compare/" + short(orZero(mv.Old)) + "..." + short(orZero(mv.New))),
		"commits": list, "head_commit": head,
	}
	f.mu.Unlock()
	f.hooks.send(HookGitHub, GHEventPush, payload)
}

func short(sha string) string { return sha[:min(len(sha), 12)] }

// sendGHStatus sends the status event of commit status s.
func (f *Forge) sendGHStatus(ctx context.Context, p *project, s commitStatus) {
	if !f.hooksOn(HookGitHub) {
		return
	}
	info, err := f.commit(ctx, p.Path, s.SHA)
	if err != nil {
		f.log.Error("status hook", zap.String("sha", s.SHA), zap.Error(err))
		return
	}
	branches, err := f.branchesWith(ctx, p, s.SHA)
	if err != nil {
		f.log.Error("status hook", zap.String("sha", s.SHA), zap.Error(err))
		return
	}
	f.mu.Lock()
	st := f.ghStatusOf(p, &s)
	payload := obj{
		"id": s.ID, "sha": s.SHA, "name": p.Path, "target_url": st.TargetURL, "context": s.Context,
		"description": st.Description, "state": s.State, "commit": f.ghCommitOf(p, info), "branches": branches,
		"created_at": st.CreatedAt, "updated_at": st.UpdatedAt, "repository": f.ghRepoOf(p),
		"sender": f.ghUserOf(f.st.users[s.CreatorID]), "avatar_url": st.AvatarURL,
	}
	f.mu.Unlock()
	f.hooks.send(HookGitHub, GHEventStatus, payload)
}

// branchesWith lists the branches whose head is sha, as a status event
// names them.
func (f *Forge) branchesWith(ctx context.Context, p *project, sha string) ([]obj, error) {
	heads, err := f.repo(p.Path).heads(ctx)
	if err != nil {
		return nil, err
	}
	l := f.ghURLs()
	out := []obj{}
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, head := range heads {
		if head == sha {
			out = append(out, obj{"name": name, "protected": f.ghProtected(p, name),
				"commit": obj{"sha": sha, "url": l.api("repos/" + p.Path + "/commits/" + sha)}})
		}
	}
	return out, nil
}

// sendGHCheckRuns sends a check_run event with action for each check
// run.
func (f *Forge) sendGHCheckRuns(action string, ids ...int64) {
	if !f.hooksOn(HookGitHub) {
		return
	}
	for _, id := range ids {
		f.mu.Lock()
		c := f.st.gh.checkRuns[id]
		p := f.st.projects[c.ProjectID]
		run := f.ghCheckRunOf(p, c)
		run.App = hookApp(run.App)
		payload := obj{
			"action": action, "check_run": ghHookCheckRun{ghCheckRun: run, CheckSuite: f.suiteOf(p, c)},
			"repository": f.ghRepoOf(p), "sender": f.ghUserOf(f.st.users[f.botID(p)]),
		}
		f.mu.Unlock()
		f.hooks.send(HookGitHub, GHEventCheckRun, payload)
	}
}

// sendGHWorkflowRun sends a workflow_run event for run id, and with
// completed the check_suite event of its suite.
func (f *Forge) sendGHWorkflowRun(ctx context.Context, id int64, action string) {
	if !f.hooksOn(HookGitHub) {
		return
	}
	f.mu.Lock()
	run := f.st.gh.workflowRuns[id]
	p, sha := f.st.projects[run.ProjectID], run.SHA
	f.mu.Unlock()
	head, err := f.commit(ctx, p.Path, sha)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Error("workflow run hook", zap.Int64("run", id), zap.Error(err))
		}
		return
	}
	f.mu.Lock()
	sender := f.ghUserOf(f.st.users[run.ActorID])
	wr := obj{
		"action": action, "workflow_run": f.ghWorkflowRunOf(p, run, head), "workflow": f.ghWorkflowOf(p),
		"repository": f.ghRepoOf(p), "organization": f.ghOrganization(p), "sender": sender,
	}
	var suite obj
	if action == "completed" {
		cid := run.jobs[f.opts.GitHub.Actions.Checks[0]]
		s := ghSuite{ghSuiteBrief: f.suiteOf(p, f.st.gh.checkRuns[cid]), LatestCheckRunsCount: len(run.jobs),
			CheckRunsURL: f.ghURLs().api("repos/" + p.Path + "/check-suites/" + itoa(run.SuiteID) + "/check-runs"),
			HeadCommit:   ghHeadCommitOf(head)}
		suite = obj{"action": "completed", "check_suite": s, "repository": f.ghRepoOf(p), "sender": sender}
	}
	f.mu.Unlock()
	f.hooks.send(HookGitHub, GHEventWorkflowRun, wr)
	if suite != nil {
		f.hooks.send(HookGitHub, GHEventCheckSuite, suite)
	}
}

// ghWorkflowOf renders the simulated workflow; call with f.mu held.
func (f *Forge) ghWorkflowOf(p *project) obj {
	l := f.ghURLs()
	file := f.workflowFile()
	created := ghTimeStr(p.Created)
	return obj{
		"id": p.ID, "node_id": nodeID("W", p.ID), "name": f.opts.GitHub.Actions.Workflow, "path": file, "state": "active",
		"created_at": created, "updated_at": created, "url": l.api("repos/" + p.Path + "/actions/workflows/" + itoa(p.ID)),
		"html_url":  l.web(p.Path + "/blob/" + p.DefaultBranch + "/" + file),
		"badge_url": l.web(p.Path + "/workflows/" + f.opts.GitHub.Actions.Workflow + "/badge.svg"),
	}
}

func ghHeadCommitOf(c commitInfo) ghHeadCommit {
	who := ghNameMail{Name: c.AuthorName, Email: c.AuthorEmail}
	return ghHeadCommit{ID: c.ID, TreeID: c.Tree, Message: c.Message, Timestamp: ghTimeStr(c.Time), Author: who, Committer: who}
}

// botID is who GitHub names as the sender of check runs: the Actions
// app acts for the repository's owner here. Call with f.mu held.
func (f *Forge) botID(p *project) int64 { return f.st.usersByName[p.namespace()].ID }

// pullBase is the head of MR iid's target branch, which GitHub's pull
// request payloads carry.
func (f *Forge) pullBase(ctx context.Context, p *project, iid int64) (string, error) {
	f.mu.Lock()
	target := p.mrs[iid].Target
	f.mu.Unlock()
	base, err := f.repo(p.Path).resolve(ctx, "refs/heads/"+target)
	if err != nil {
		return "", fmt.Errorf("pull request #%d: %w", iid, err)
	}
	return base, nil
}

// sendGHReview sends the pull_request_review event of review rv on MR
// iid, submitted by by.
func (f *Forge) sendGHReview(ctx context.Context, p *project, iid int64, by *user, rv *review) error {
	if !f.hooksOn(HookGitHub) {
		return nil
	}
	base, err := f.pullBase(ctx, p, iid)
	if err != nil {
		return err
	}
	f.mu.Lock()
	m := p.mrs[iid]
	pull, err := f.ghReviewedPullOf(p, m, base)
	payload := obj{
		"action": "submitted", "review": f.ghHookReviewOf(p, m, rv), "pull_request": pull,
		"repository": f.ghRepoOf(p), "installation": f.ghInstallation(), "sender": f.ghUserOf(by),
	}
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("pull request #%d: %w", iid, err)
	}
	f.hooks.send(HookGitHub, GHEventReview, payload)
	return nil
}
