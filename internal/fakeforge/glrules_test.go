package fakeforge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// tick is a forge clock that moves on by step at every reading, so that
// each change has its own time and tests can tell them apart.
type tick struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *tick) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func newTick(step time.Duration) *tick {
	return &tick{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), step: step}
}

// mrStatus reads MR iid through the REST API: its detailed and plain merge
// status and blocking_discussions_resolved. The GitLab client no longer
// decodes merge_status, so the JSON is read as it is.
func mrStatus(t *testing.T, f *Forge, iid int64) (string, string, bool) {
	t.Helper()
	m := decodeJSON(t, apiGet(t, f, fmt.Sprintf("/projects/acme%%2Fwidgets/merge_requests/%d", iid))).(map[string]any)
	return m["detailed_merge_status"].(string), m["merge_status"].(string), m["blocking_discussions_resolved"].(bool)
}

func wantStatus(t *testing.T, f *Forge, iid int64, want string) {
	t.Helper()
	if got, _, _ := mrStatus(t, f, iid); got != want {
		t.Fatalf("detailed_merge_status = %q, want %q", got, want)
	}
}

func approvals(t *testing.T, c *gitlab.Client, iid int64) *gitlab.MergeRequestApprovals {
	t.Helper()
	a, _, err := c.MergeRequestApprovals.GetConfiguration(project1, iid)
	if err != nil {
		t.Fatalf("GetConfiguration: %v", err)
	}
	return a
}

func approverNames(a *gitlab.MergeRequestApprovals) []string {
	var out []string
	for _, u := range a.ApprovedBy {
		out = append(out, u.User.Username)
	}
	return out
}

// mrActions lists the actions of the Merge Request Hooks sent so far, each
// with the detailed_merge_status it reported.
func mrActions(t *testing.T, s *sink, f *Forge) []string {
	t.Helper()
	evs, _ := s.events(t, f, EventMergeRequest)
	var out []string
	for _, ev := range evs {
		a := ev.(*gitlab.MergeEvent).ObjectAttributes
		out = append(out, a.Action+":"+a.DetailedMergeStatus)
	}
	return out
}

func TestApprovals(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	c := client(t, f, botToken)
	ctx := context.Background()
	m := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})

	// Nothing required by default: existing scenarios merge as before.
	wantStatus(t, f, m.IID, "mergeable")
	if a := approvals(t, c, m.IID); a.ApprovalsRequired != 0 || a.ApprovalsLeft != 0 || !a.Approved || len(a.ApprovedBy) != 0 {
		t.Fatalf("approvals with none required = %+v", a)
	}

	if err := f.SetApprovalsRequired(project1, 2); err != nil {
		t.Fatal(err)
	}
	if got, plain, _ := mrStatus(t, f, m.IID); got != "not_approved" || plain != "can_be_merged" {
		t.Fatalf("with 2 required: %q / %q, want not_approved / can_be_merged", got, plain)
	}
	if err := f.Approve(ctx, project1, m.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := f.Approve(ctx, project1, m.IID, "bob"); err == nil {
		t.Fatal("approving twice succeeded")
	}
	a := approvals(t, c, m.IID)
	if a.ApprovalsRequired != 2 || a.ApprovalsLeft != 1 || a.Approved || fmt.Sprint(approverNames(a)) != "[bob]" ||
		a.ApprovedBy[0].User.Username != "bob" || a.UserHasApproved || !a.UserCanApprove {
		t.Fatalf("after bob approved: %+v", a)
	}

	// The token's user approves through the API; a second time is a 304.
	got, resp, err := c.MergeRequestApprovals.ApproveMergeRequest(project1, m.IID, nil)
	if err != nil || resp.StatusCode != http.StatusCreated || got.ApprovalsLeft != 0 || !got.Approved || !got.UserHasApproved {
		t.Fatalf("ApproveMergeRequest = %+v, %v, %v", got, resp, err)
	}
	wantStatus(t, f, m.IID, "mergeable")
	if _, resp, _ := c.MergeRequestApprovals.ApproveMergeRequest(project1, m.IID, nil); resp == nil || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("approving twice: %v, want 304", resp)
	}
	if _, resp, _ := c.MergeRequestApprovals.ApproveMergeRequest(project1, m.IID, &gitlab.ApproveMergeRequestOptions{SHA: gitlab.Ptr("0123")}); resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("approving another sha: %v, want 409", resp)
	}

	resp, err = c.MergeRequestApprovals.UnapproveMergeRequest(project1, m.IID)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("UnapproveMergeRequest: %v, %v", resp, err)
	}
	if resp, _ := c.MergeRequestApprovals.UnapproveMergeRequest(project1, m.IID); resp == nil || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("unapproving twice: %v, want 304", resp)
	}
	if a := approvals(t, c, m.IID); a.ApprovalsLeft != 1 || fmt.Sprint(approverNames(a)) != "[bob]" {
		t.Fatalf("after unapprove: %+v", a)
	}
	wantStatus(t, f, m.IID, "not_approved")

	// A reporter may not approve.
	f.AddToken("rita", "rita-token")
	if err := f.SetAccess(project1, "rita", Reporter); err != nil {
		t.Fatal(err)
	}
	if _, resp, _ := client(t, f, "rita-token").MergeRequestApprovals.ApproveMergeRequest(project1, m.IID, nil); resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("reporter approving: %v, want 403", resp)
	}
	if _, resp, _ := c.MergeRequestApprovals.ApproveMergeRequest(project1, 99, nil); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("approving a missing MR: %v, want 404", resp)
	}

	if got := mrActions(t, hooks, f); fmt.Sprint(got) != "[open:mergeable approval:not_approved approved:mergeable unapproved:not_approved]" {
		t.Fatalf("merge request hook actions %v", got)
	}

	// New commits drop the approvals, as GitLab's reset on push does.
	if err := f.Approve(ctx, project1, m.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f, m.IID, "mergeable")
	if _, err := f.PushToMR(ctx, project1, m.IID, Commit{Files: map[string]string{"b": "b"}}); err != nil {
		t.Fatal(err)
	}
	if a := approvals(t, c, m.IID); a.ApprovalsLeft != 2 || len(a.ApprovedBy) != 0 {
		t.Fatalf("after a push: %+v", a)
	}
	wantStatus(t, f, m.IID, "not_approved")

	// Unless the project keeps them.
	if err := f.SetResetApprovalsOnPush(project1, false); err != nil {
		t.Fatal(err)
	}
	if err := f.Approve(ctx, project1, m.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PushToMR(ctx, project1, m.IID, Commit{Files: map[string]string{"c": "c"}}); err != nil {
		t.Fatal(err)
	}
	if a := approvals(t, c, m.IID); a.ApprovalsLeft != 1 || fmt.Sprint(approverNames(a)) != "[bob]" {
		t.Fatalf("after a push that keeps approvals: %+v", a)
	}

	if err := f.CloseMR(ctx, project1, m.IID, "alice"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f, m.IID, "not_open")
	if _, resp, _ := c.MergeRequestApprovals.ApproveMergeRequest(project1, m.IID, nil); resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("approving a closed MR: %v, want 401", resp)
	}
	if err := f.Approve(ctx, project1, m.IID, "dave"); !errors.Is(err, errMRNotOpen) {
		t.Fatalf("control approval of a closed MR: %v", err)
	}
}

func TestApprovalState(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	c := client(t, f, botToken)
	m := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	st, _, err := c.MergeRequestApprovals.GetApprovalState(project1, m.IID)
	if err != nil || len(st.Rules) != 0 {
		t.Fatalf("approval state with none required = %+v, %v", st, err)
	}
	if err := f.SetAccess(project1, "dev", Developer); err != nil {
		t.Fatal(err)
	}
	if err := f.SetAccess(project1, "rita", Reporter); err != nil {
		t.Fatal(err)
	}
	if err := f.SetApprovalsRequired(project1, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Approve(context.Background(), project1, m.IID, "dev"); err != nil {
		t.Fatal(err)
	}
	st, _, err = c.MergeRequestApprovals.GetApprovalState(project1, m.IID)
	if err != nil || len(st.Rules) != 1 {
		t.Fatalf("approval state = %+v, %v", st, err)
	}
	r := st.Rules[0]
	if r.RuleType != "any_approver" || r.ApprovalsRequired != 1 || !r.Approved || len(r.ApprovedBy) != 1 || r.ApprovedBy[0].Username != "dev" ||
		len(r.EligibleApprovers) != 1 || r.EligibleApprovers[0].Username != "dev" {
		t.Fatalf("rule = %+v", r)
	}
}

func TestRequestedChanges(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	c := client(t, f, botToken)
	ctx := context.Background()
	m := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})

	if err := f.Approve(ctx, project1, m.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := f.RequestChanges(ctx, project1, m.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f, m.IID, "requested_changes")
	if a := approvals(t, c, m.IID); len(a.ApprovedBy) != 0 {
		t.Fatalf("requesting changes kept the approval: %+v", a)
	}
	// Approving withdraws the user's request.
	if err := f.Approve(ctx, project1, m.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f, m.IID, "mergeable")

	for _, who := range []string{"carol", "dave"} {
		if err := f.RequestChanges(ctx, project1, m.IID, who); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.ClearRequestedChanges(ctx, project1, m.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f, m.IID, "requested_changes")
	if err := f.ClearRequestedChanges(ctx, project1, m.IID, "dave"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f, m.IID, "mergeable")
	if err := f.RequestChanges(ctx, project1, 42, "dave"); !errors.Is(err, ErrNoMR) {
		t.Fatalf("requesting changes on a missing MR: %v", err)
	}

	// What happened shows as system notes, which the control's Notes and
	// the MR's user_notes_count leave out.
	notes, _, err := c.Notes.ListMergeRequestNotes(project1, m.IID, &gitlab.ListMergeRequestNotesOptions{Sort: gitlab.Ptr("asc")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range notes {
		if !n.System {
			t.Fatalf("user note %+v", n)
		}
		got = append(got, n.Author.Username+" "+n.Body)
	}
	want := []string{"bob approved this merge request", "bob requested changes", "bob approved this merge request", "carol requested changes", "dave requested changes"}
	if !slices.Equal(got, want) {
		t.Fatalf("system notes %q\nwant %q", got, want)
	}
	if ctrl, err := f.Notes(project1, m.IID); err != nil || len(ctrl) != 0 {
		t.Fatalf("control Notes = %v, %v", ctrl, err)
	}
	if mr, _, _ := c.MergeRequests.GetMergeRequest(project1, m.IID, nil); mr.UserNotesCount != 0 {
		t.Fatalf("user_notes_count %d", mr.UserNotesCount)
	}
}

func TestDiscussions(t *testing.T) {
	clock := newTick(10 * time.Millisecond)
	f := newForge(t, func(o *Options) { o.Now = clock.now })
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	c := client(t, f, botToken)
	ctx := context.Background()
	m := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})

	lone, err := f.AddNote(ctx, project1, m.IID, "carol", "looks fine")
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.StartDiscussion(ctx, project1, m.IID, "bob", "please rename x")
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 40 {
		t.Fatalf("discussion id %q", id)
	}
	// GitLab's default: threads do not block.
	if got, _, resolved := mrStatus(t, f, m.IID); got != "mergeable" || !resolved {
		t.Fatalf("setting off: %q, blocking_discussions_resolved %v", got, resolved)
	}
	if err := f.SetRequireResolvedDiscussions(project1, true); err != nil {
		t.Fatal(err)
	}
	if got, _, resolved := mrStatus(t, f, m.IID); got != "discussions_not_resolved" || resolved {
		t.Fatalf("setting on: %q, blocking_discussions_resolved %v", got, resolved)
	}

	list, _, err := c.Discussions.ListMergeRequestDiscussions(project1, m.IID, nil)
	if err != nil || len(list) != 2 {
		t.Fatalf("discussions = %v, %v", list, err)
	}
	if d := list[0]; !d.IndividualNote || len(d.Notes) != 1 || d.Notes[0].ID != lone.ID || d.Notes[0].Resolvable {
		t.Fatalf("lone note discussion = %+v %+v", d, d.Notes[0])
	}
	if d := list[1]; d.ID != id || d.IndividualNote || len(d.Notes) != 1 || d.Notes[0].Body != "please rename x" ||
		!d.Notes[0].Resolvable || d.Notes[0].Resolved || d.Notes[0].Type != gitlab.DiscussionNote {
		t.Fatalf("thread = %+v %+v", d, d.Notes[0])
	}

	before, _, _ := c.MergeRequests.GetMergeRequest(project1, m.IID, nil)
	d, _, err := c.Discussions.ResolveMergeRequestDiscussion(project1, m.IID, id, &gitlab.ResolveMergeRequestDiscussionOptions{Resolved: gitlab.Ptr(true)})
	if err != nil || !d.Notes[0].Resolved || d.Notes[0].ResolvedBy.Username != botName || d.Notes[0].ResolvedAt == nil {
		t.Fatalf("ResolveMergeRequestDiscussion = %+v, %v", d, err)
	}
	after, _, _ := c.MergeRequests.GetMergeRequest(project1, m.IID, nil)
	if after.DetailedMergeStatus != "mergeable" || !after.BlockingDiscussionsResolved || !after.UpdatedAt.After(*before.UpdatedAt) {
		t.Fatalf("after resolving: %q, resolved %v, updated %v then %v", after.DetailedMergeStatus, after.BlockingDiscussionsResolved, before.UpdatedAt, after.UpdatedAt)
	}

	if err := f.ResolveDiscussion(ctx, project1, m.IID, id, "bob", false); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f, m.IID, "discussions_not_resolved")
	got, _, err := c.Discussions.GetMergeRequestDiscussion(project1, m.IID, id)
	if err != nil || got.Notes[0].Resolved || got.Notes[0].ResolvedAt != nil {
		t.Fatalf("reopened thread = %+v, %v", got, err)
	}

	if _, resp, _ := c.Discussions.ResolveMergeRequestDiscussion(project1, m.IID, list[0].ID, &gitlab.ResolveMergeRequestDiscussionOptions{Resolved: gitlab.Ptr(true)}); resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("resolving a lone note: %v, want 403", resp)
	}
	if _, resp, _ := c.Discussions.ResolveMergeRequestDiscussion(project1, m.IID, "feed", &gitlab.ResolveMergeRequestDiscussionOptions{Resolved: gitlab.Ptr(true)}); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("resolving a missing discussion: %v, want 404", resp)
	}
	if _, resp, _ := c.Discussions.ResolveMergeRequestDiscussion(project1, m.IID, id, nil); resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("resolving without resolved: %v, want 400", resp)
	}
	if err := f.ResolveDiscussion(ctx, project1, m.IID, "feed", "bob", true); !errors.Is(err, errNoDiscussion) {
		t.Fatalf("control resolving a missing discussion: %v", err)
	}

	// A thread's first note is a note like the others, hook included; the
	// hooks tell the MR's status as it is when they are sent.
	if _, err := f.AddNote(ctx, project1, m.IID, "carol", "still open"); err != nil {
		t.Fatal(err)
	}
	evs, _ := hooks.events(t, f, EventNote)
	var sent []string
	for _, ev := range evs {
		e := ev.(*gitlab.MergeCommentEvent)
		sent = append(sent, e.ObjectAttributes.Note+": "+e.MergeRequest.DetailedMergeStatus)
	}
	if want := "[looks fine: mergeable please rename x: mergeable still open: discussions_not_resolved]"; fmt.Sprint(sent) != want {
		t.Fatalf("note hooks %v\nwant %s", sent, want)
	}
	if ctrl, _ := f.Notes(project1, m.IID); len(ctrl) != 3 {
		t.Fatalf("control Notes has %d notes, want 3", len(ctrl))
	}
}

func TestForcedMergeStatus(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	c := client(t, f, botToken)
	ctx := context.Background()
	m := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})

	if err := f.SetMergeStatus(project1, m.IID, "checking", 2); err != nil {
		t.Fatal(err)
	}
	// Lists show it without using up a read.
	list, _, err := c.MergeRequests.ListProjectMergeRequests(project1, nil)
	if err != nil || len(list) != 1 || list[0].DetailedMergeStatus != "checking" {
		t.Fatalf("list = %v, %v", list, err)
	}
	for range 2 {
		if got, plain, _ := mrStatus(t, f, m.IID); got != "checking" || plain != "checking" {
			t.Fatalf("forced: %q / %q", got, plain)
		}
	}
	if got, plain, _ := mrStatus(t, f, m.IID); got != "mergeable" || plain != "can_be_merged" {
		t.Fatalf("after two reads: %q / %q", got, plain)
	}

	if err := f.SetMergeStatus(project1, m.IID, "conflict", 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		mr, _, err := c.MergeRequests.GetMergeRequest(project1, m.IID, nil)
		if err != nil || mr.DetailedMergeStatus != "conflict" || !mr.HasConflicts {
			t.Fatalf("until cleared: %+v, %v", mr, err)
		}
		if _, plain, _ := mrStatus(t, f, m.IID); plain != "cannot_be_merged" {
			t.Fatalf("merge_status %q with a conflict", plain)
		}
	}
	if err := f.SetMergeStatus(project1, m.IID, "", 0); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f, m.IID, "mergeable")
	if err := f.SetMergeStatus(project1, 9, "checking", 1); !errors.Is(err, ErrNoMR) {
		t.Fatalf("forcing a missing MR: %v", err)
	}

	draft := mustMR(t, f, MRSpec{Source: "wip", Draft: true, Commits: []Commit{{Files: map[string]string{"w": "w"}}}})
	wantStatus(t, f, draft.IID, "draft_status")
	if err := f.SetMergeStatus(project1, draft.IID, "need_rebase", 0); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f, draft.IID, "need_rebase")
	if err := f.CloseMR(ctx, project1, draft.IID, "alice"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f, draft.IID, "not_open")
}

func TestListMRsByUpdate(t *testing.T) {
	// A second a step: the GitLab client sends updated_after and
	// updated_before in whole seconds.
	clock := newTick(time.Second)
	f := newForge(t, func(o *Options) { o.Now = clock.now })
	mustProject(t, f, project1, nil)
	c := client(t, f, botToken)
	ctx := context.Background()
	var mrs []MR
	for _, b := range []string{"a", "b", "c"} {
		mrs = append(mrs, mustMR(t, f, MRSpec{Source: b, Commits: []Commit{{Files: map[string]string{b: b}}}}))
	}
	// A note touches its MR: a is now the most recently updated.
	if _, err := f.AddNote(ctx, project1, mrs[0].IID, "carol", "hi"); err != nil {
		t.Fatal(err)
	}
	a, _, _ := c.MergeRequests.GetMergeRequest(project1, mrs[0].IID, nil)
	b, _, _ := c.MergeRequests.GetMergeRequest(project1, mrs[1].IID, nil)

	iids := func(opt *gitlab.ListProjectMergeRequestsOptions) string {
		t.Helper()
		list, _, err := c.MergeRequests.ListProjectMergeRequests(project1, opt)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, m := range list {
			out = append(out, m.IID)
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		opt  *gitlab.ListProjectMergeRequestsOptions
		want string
	}{
		{&gitlab.ListProjectMergeRequestsOptions{}, "[3 2 1]"},
		{&gitlab.ListProjectMergeRequestsOptions{Sort: gitlab.Ptr("asc")}, "[1 2 3]"},
		{&gitlab.ListProjectMergeRequestsOptions{OrderBy: gitlab.Ptr("updated_at")}, "[1 3 2]"},
		{&gitlab.ListProjectMergeRequestsOptions{OrderBy: gitlab.Ptr("updated_at"), Sort: gitlab.Ptr("asc")}, "[2 3 1]"},
		// Bounds are inclusive.
		{&gitlab.ListProjectMergeRequestsOptions{UpdatedAfter: a.UpdatedAt}, "[1]"},
		{&gitlab.ListProjectMergeRequestsOptions{UpdatedAfter: gitlab.Ptr(a.UpdatedAt.Add(time.Second))}, "[]"},
		{&gitlab.ListProjectMergeRequestsOptions{UpdatedBefore: gitlab.Ptr(b.UpdatedAt.Add(-time.Second))}, "[]"},
		{&gitlab.ListProjectMergeRequestsOptions{UpdatedBefore: gitlab.Ptr(a.UpdatedAt.Add(time.Second)), OrderBy: gitlab.Ptr("updated_at")}, "[1 3 2]"},
	} {
		if got := iids(tc.opt); got != tc.want {
			t.Errorf("list %+v = %s, want %s", tc.opt, got, tc.want)
		}
	}
	if err := f.CloseMR(ctx, project1, mrs[2].IID, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := iids(&gitlab.ListProjectMergeRequestsOptions{State: gitlab.Ptr("opened"), OrderBy: gitlab.Ptr("updated_at")}); got != "[1 2]" {
		t.Errorf("open MRs by update = %s", got)
	}
	for _, q := range []string{"order_by=title", "sort=up", "updated_after=yesterday"} {
		req, _ := http.NewRequest(http.MethodGet, f.URL()+"/api/v4/projects/acme%2Fwidgets/merge_requests?"+q, nil)
		req.Header.Set("PRIVATE-TOKEN", botToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, resp.StatusCode)
		}
	}
}

// TestUpdatedAfterIsExact checks the bound to the millisecond, which the
// GitLab client cannot send.
func TestUpdatedAfterIsExact(t *testing.T) {
	clock := newTick(10 * time.Millisecond)
	f := newForge(t, func(o *Options) { o.Now = clock.now })
	mustProject(t, f, project1, nil)
	mustMR(t, f, MRSpec{Source: "a", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	mr := decodeJSON(t, apiGet(t, f, "/projects/acme%2Fwidgets/merge_requests/1")).(map[string]any)
	at, err := time.Parse(time.RFC3339, mr["updated_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after time.Time
		want  int
	}{{at, 1}, {at.Add(time.Millisecond), 0}} {
		list := decodeJSON(t, apiGet(t, f, "/projects/acme%2Fwidgets/merge_requests?updated_after="+tc.after.Format(time.RFC3339Nano))).([]any)
		if len(list) != tc.want {
			t.Errorf("updated_after=%s, MR updated %s: %d MRs, want %d", tc.after.Format(time.RFC3339Nano), mr["updated_at"], len(list), tc.want)
		}
	}
}

func TestNotesOrderAndEdits(t *testing.T) {
	clock := newTick(10 * time.Millisecond)
	f := newForge(t, func(o *Options) { o.Now = clock.now })
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	c := client(t, f, botToken)
	ctx := context.Background()
	m := mustMR(t, f, MRSpec{Source: "a", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	var ids []int64
	for _, body := range []string{"one", "two", "three"} {
		n, err := f.AddNote(ctx, project1, m.IID, "carol", body)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.ID)
	}
	edited, err := f.EditNote(ctx, project1, m.IID, ids[0], "one, edited")
	if err != nil || edited.Body != "one, edited" || !edited.UpdatedAt.After(edited.CreatedAt) {
		t.Fatalf("EditNote = %+v, %v", edited, err)
	}
	mr, _, _ := c.MergeRequests.GetMergeRequest(project1, m.IID, nil)
	if !mr.UpdatedAt.Equal(edited.UpdatedAt.Truncate(time.Millisecond)) {
		t.Fatalf("MR updated_at %v, want the edit's %v", mr.UpdatedAt, edited.UpdatedAt)
	}

	bodies := func(opt *gitlab.ListMergeRequestNotesOptions) string {
		t.Helper()
		notes, _, err := c.Notes.ListMergeRequestNotes(project1, m.IID, opt)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range notes {
			out = append(out, n.Body)
		}
		return fmt.Sprint(out)
	}
	for _, tc := range []struct {
		opt  *gitlab.ListMergeRequestNotesOptions
		want string
	}{
		{nil, "[three two one, edited]"},
		{&gitlab.ListMergeRequestNotesOptions{Sort: gitlab.Ptr("asc")}, "[one, edited two three]"},
		{&gitlab.ListMergeRequestNotesOptions{OrderBy: gitlab.Ptr("updated_at")}, "[one, edited three two]"},
		{&gitlab.ListMergeRequestNotesOptions{OrderBy: gitlab.Ptr("updated_at"), Sort: gitlab.Ptr("asc")}, "[two three one, edited]"},
	} {
		if got := bodies(tc.opt); got != tc.want {
			t.Errorf("notes %+v = %s, want %s", tc.opt, got, tc.want)
		}
	}

	// Through the API, by the note's author only.
	f.AddToken("carol", "carol-token")
	f.AddToken("mallory", "mallory-token")
	opt := &gitlab.UpdateMergeRequestNoteOptions{Body: gitlab.Ptr("two, edited")}
	if _, resp, _ := client(t, f, "mallory-token").Notes.UpdateMergeRequestNote(project1, m.IID, ids[1], opt); resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("editing another's note: %v, want 403", resp)
	}
	n, _, err := client(t, f, "carol-token").Notes.UpdateMergeRequestNote(project1, m.IID, ids[1], opt)
	if err != nil || n.Body != "two, edited" || n.System || !n.UpdatedAt.After(*n.CreatedAt) {
		t.Fatalf("UpdateMergeRequestNote = %+v, %v", n, err)
	}
	if _, resp, _ := c.Notes.UpdateMergeRequestNote(project1, m.IID, 999, opt); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("editing a missing note: %v, want 404", resp)
	}

	evs, _ := hooks.events(t, f, EventNote)
	var actions []string
	for _, ev := range evs {
		e := ev.(*gitlab.MergeCommentEvent)
		actions = append(actions, string(e.ObjectAttributes.Action)+" "+e.ObjectAttributes.Note)
	}
	want := "[create one create two create three update one, edited update two, edited]"
	if fmt.Sprint(actions) != want {
		t.Fatalf("note hooks %v\nwant %s", actions, want)
	}
}
