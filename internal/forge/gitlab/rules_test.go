package gitlab

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
)

func TestMergeStateRules(t *testing.T) {
	open := func(status string) mergeState {
		return mergeState{status: status, state: forge.StateOpened, discussionsResolved: true}
	}
	with := func(s mergeState, change func(*mergeState)) mergeState {
		change(&s)
		return s
	}
	unmet := func(pairs ...string) forge.Rules {
		var r forge.Rules
		for i := 0; i < len(pairs); i += 2 {
			r.Unmet = append(r.Unmet, forge.Unmet{Code: pairs[i], Message: pairs[i+1]})
		}
		return r
	}
	needs := func(n string) forge.Rules { return unmet(forge.UnmetNotApproved, n) }
	for _, tc := range []struct {
		name string
		in   mergeState
		// extra: the approvals must be read as well.
		extra bool
		want  forge.Rules
	}{
		{"mergeable", open("mergeable"), false, forge.Rules{}},
		{"mergeable yet a draft", with(open("mergeable"), func(s *mergeState) { s.draft = true }), false, unmet(forge.UnmetDraft, "it is a draft")},
		{"checking", open("checking"), false, forge.Rules{Pending: true}},
		{"unchecked", open("unchecked"), false, forge.Rules{Pending: true}},
		{"preparing", open("preparing"), false, forge.Rules{Pending: true}},
		{"approvals_syncing", open("approvals_syncing"), false, forge.Rules{Pending: true}},
		{"security_policy_evaluation", open("security_policy_evaluation"), false, forge.Rules{Pending: true}},
		{"pending hides nothing yet", with(open("checking"), func(s *mergeState) { s.draft = true }), false, forge.Rules{Pending: true}},
		{"ci_must_pass", open("ci_must_pass"), true, forge.Rules{}},
		{"ci_still_running", open("ci_still_running"), true, forge.Rules{}},
		{"need_rebase", open("need_rebase"), true, forge.Rules{}},
		{"conflict", open("conflict"), true, forge.Rules{}},
		{"need_rebase hides approvals", with(open("need_rebase"), func(s *mergeState) { s.approvalsLeft = 2 }), true, needs("it needs 2 more approvals")},
		{"conflict hides a draft and threads", with(open("conflict"), func(s *mergeState) { s.draft, s.discussionsResolved = true, false }), true,
			unmet(forge.UnmetDraft, "it is a draft", forge.UnmetDiscussions, "it has unresolved threads")},
		{"not_approved, 1 left", with(open("not_approved"), func(s *mergeState) { s.approvalsLeft = 1 }), true, needs("it needs 1 more approval")},
		{"not_approved, 3 left", with(open("not_approved"), func(s *mergeState) { s.approvalsLeft = 3 }), true, needs("it needs 3 more approvals")},
		{"not_approved, approved since", open("not_approved"), true, needs("it is not approved yet")},
		{"requested_changes and approvals", with(open("requested_changes"), func(s *mergeState) { s.approvalsLeft = 1 }), true,
			unmet(forge.UnmetRequestedChanges, "a reviewer requested changes", forge.UnmetNotApproved, "it needs 1 more approval")},
		{"discussions_not_resolved", with(open("discussions_not_resolved"), func(s *mergeState) { s.discussionsResolved = false }), true,
			unmet(forge.UnmetDiscussions, "it has unresolved threads")},
		{"draft_status", with(open("draft_status"), func(s *mergeState) { s.draft = true }), true, unmet(forge.UnmetDraft, "it is a draft")},
		{"blocked_status", open("blocked_status"), true, unmet(forge.UnmetBlocked, "it depends on merge requests that are not merged yet")},
		{"merge_request_blocked", open("merge_request_blocked"), true, unmet(forge.UnmetMRBlocked, "it depends on merge requests that are not merged yet")},
		{"external_status_checks", open("external_status_checks"), true, unmet(forge.UnmetExternalChecks, "its external status checks have not passed")},
		{"status_checks_must_pass", open("status_checks_must_pass"), true, unmet(forge.UnmetExternalChecks, "its external status checks have not passed")},
		{"jira_association_missing", open("jira_association_missing"), true, unmet(forge.UnmetJira, "its title or description must name a Jira issue")},
		{"policies_denied", open("policies_denied"), true, unmet(forge.UnmetPolicies, "a policy of the project denies it")},
		{"security_policy_violations", open("security_policy_violations"), true, unmet(forge.UnmetPolicies, "it violates a security policy of the project")},
		{"not_open", open("not_open"), false, unmet(forge.UnmetNotOpen, "it is not open")},
		{"merged", with(open("mergeable"), func(s *mergeState) { s.state = forge.StateMerged }), false, unmet(forge.UnmetNotOpen, "it is not open")},
		{"commits_status", open("commits_status"), true, unmet(forge.UnmetUnknown, "GitLab reports `commits_status`")},
		{"merge_time", open("merge_time"), true, unmet(forge.UnmetUnknown, "GitLab reports `merge_time`")},
		{"title_regex", open("title_regex"), true, unmet(forge.UnmetUnknown, "GitLab reports `title_regex`")},
		{"locked_paths", open("locked_paths"), true, unmet(forge.UnmetUnknown, "GitLab reports `locked_paths`")},
		{"locked_lfs_files", open("locked_lfs_files"), true, unmet(forge.UnmetUnknown, "GitLab reports `locked_lfs_files`")},
		{"a status from a later GitLab", with(open("moon_phase"), func(s *mergeState) { s.approvalsLeft = 1 }), true,
			unmet(forge.UnmetUnknown, "GitLab reports `moon_phase`", forge.UnmetNotApproved, "it needs 1 more approval")},
		{"no status at all", open(""), true, unmet(forge.UnmetUnknown, "GitLab reports no merge status")},
		{"approvals unreadable", with(open("need_rebase"), func(s *mergeState) { s.approvalsUnreadable = true }), true,
			unmet(forge.UnmetUnreadable, "Trainyard may not read its approvals")},
	} {
		if got := tc.in.needsApprovals(); got != tc.extra {
			t.Errorf("%s: needsApprovals = %v, want %v", tc.name, got, tc.extra)
		}
		if got := tc.in.rules(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: rules = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// ruleCalls counts the requests MergeRules makes, by what they read.
func ruleCalls(f *fakeforge.Forge) (mr, approvals int) {
	c := f.Calls()
	return c["GET /projects/{id}/merge_requests/{iid}"], c["GET /projects/{id}/merge_requests/{iid}/approvals"]
}

// checkRules calls MergeRules and compares what it says and how many
// requests of each kind it took.
func checkRules(t *testing.T, f *fakeforge.Forge, c *Client, iid int64, want forge.Rules, wantMR, wantApprovals int) {
	t.Helper()
	mr0, ap0 := ruleCalls(f)
	got, err := c.MergeRules(context.Background(), project, iid, "")
	if err != nil {
		t.Fatalf("MergeRules: %v", err)
	}
	// The MR comes with its rules.
	held, err := f.MR(project, iid)
	if err != nil {
		t.Fatal(err)
	}
	if m := got.MR; m == nil || m.IID != iid || m.HeadSHA != held.SHA || m.State != held.State || m.TargetBranch != held.Target {
		t.Fatalf("MergeRules gave the MR %+v, want the forge's %+v", got.MR, held)
	}
	got.MR = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MergeRules = %+v\nwant %+v", got, want)
	}
	mr1, ap1 := ruleCalls(f)
	if mr1-mr0 != wantMR || ap1-ap0 != wantApprovals {
		t.Fatalf("MergeRules read the MR %d times and the approvals %d times, want %d and %d", mr1-mr0, ap1-ap0, wantMR, wantApprovals)
	}
}

func notApprovedRule(msg string) forge.Rules {
	return forge.Rules{Unmet: []forge.Unmet{{Code: forge.UnmetNotApproved, Message: msg}}}
}

func TestMergeRulesNothingRequired(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	checkRules(t, f, c, mr.IID, forge.Rules{}, 1, 0)
}

func TestMergeRulesApprovals(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if err := f.SetApprovalsRequired(project, 2); err != nil {
		t.Fatal(err)
	}
	if err := f.Approve(ctx, project, mr.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	checkRules(t, f, c, mr.IID, notApprovedRule("it needs 1 more approval"), 1, 1)
	if err := f.Approve(ctx, project, mr.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	checkRules(t, f, c, mr.IID, forge.Rules{}, 1, 0)
	if err := f.Unapprove(ctx, project, mr.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	checkRules(t, f, c, mr.IID, notApprovedRule("it needs 1 more approval"), 1, 1)
	if err := f.Unapprove(ctx, project, mr.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	checkRules(t, f, c, mr.IID, notApprovedRule("it needs 2 more approvals"), 1, 1)
}

func TestMergeRulesRequestedChanges(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if err := f.RequestChanges(ctx, project, mr.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	want := forge.Rules{Unmet: []forge.Unmet{{Code: forge.UnmetRequestedChanges, Message: "a reviewer requested changes"}}}
	checkRules(t, f, c, mr.IID, want, 1, 1)
	if err := f.ClearRequestedChanges(ctx, project, mr.IID, "bob"); err != nil {
		t.Fatal(err)
	}
	checkRules(t, f, c, mr.IID, forge.Rules{}, 1, 0)
}

func TestMergeRulesDiscussions(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	id, err := f.StartDiscussion(ctx, project, mr.IID, "bob", "why?")
	if err != nil {
		t.Fatal(err)
	}
	// Unresolved threads only block when the project says so.
	checkRules(t, f, c, mr.IID, forge.Rules{}, 1, 0)
	if err := f.SetRequireResolvedDiscussions(project, true); err != nil {
		t.Fatal(err)
	}
	want := forge.Rules{Unmet: []forge.Unmet{{Code: forge.UnmetDiscussions, Message: "it has unresolved threads"}}}
	checkRules(t, f, c, mr.IID, want, 1, 1)
	if err := f.ResolveDiscussion(ctx, project, mr.IID, id, "alice", true); err != nil {
		t.Fatal(err)
	}
	checkRules(t, f, c, mr.IID, forge.Rules{}, 1, 0)
}

func TestMergeRulesDraft(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	mr, err := f.CreateMR(context.Background(), project, fakeforge.MRSpec{Source: "wip", Author: "alice", Draft: true, Commits: []fakeforge.Commit{{Files: map[string]string{"w": "w"}}}})
	if err != nil {
		t.Fatal(err)
	}
	checkRules(t, f, c, mr.IID, forge.Rules{Unmet: []forge.Unmet{{Code: forge.UnmetDraft, Message: "it is a draft"}}}, 1, 1)
}

func TestMergeRulesPending(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if err := f.SetApprovalsRequired(project, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.SetMergeStatus(project, mr.IID, "checking", 2); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		checkRules(t, f, c, mr.IID, forge.Rules{Pending: true}, 1, 0)
	}
	checkRules(t, f, c, mr.IID, notApprovedRule("it needs 1 more approval"), 1, 1)
}

// TestMergeRulesMasked: GitLab names one status, and one the train
// resolves itself must not hide the approvals that are missing.
func TestMergeRulesMasked(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if err := f.SetApprovalsRequired(project, 2); err != nil {
		t.Fatal(err)
	}
	for _, status := range []string{"need_rebase", "conflict"} {
		if err := f.SetMergeStatus(project, mr.IID, status, 0); err != nil {
			t.Fatal(err)
		}
		checkRules(t, f, c, mr.IID, notApprovedRule("it needs 2 more approvals"), 1, 1)
	}
	for _, who := range []string{"bob", "carol"} {
		if err := f.Approve(ctx, project, mr.IID, who); err != nil {
			t.Fatal(err)
		}
	}
	checkRules(t, f, c, mr.IID, forge.Rules{}, 1, 1)
	if err := f.SetMergeStatus(project, mr.IID, "title_regex", 0); err != nil {
		t.Fatal(err)
	}
	checkRules(t, f, c, mr.IID, forge.Rules{Unmet: []forge.Unmet{{Code: forge.UnmetUnknown, Message: "GitLab reports `title_regex`"}}}, 1, 1)
}

func TestMergeRulesClosedAndMissing(t *testing.T) {
	f := newForge(t, nil)
	c := newClient(t, f, nil)
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if err := f.CloseMR(ctx, project, mr.IID, "alice"); err != nil {
		t.Fatal(err)
	}
	checkRules(t, f, c, mr.IID, forge.Rules{Unmet: []forge.Unmet{{Code: forge.UnmetNotOpen, Message: "it is not open"}}}, 1, 0)
	_, err := c.MergeRules(ctx, project, 42, "")
	if !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "read merge status of acme/widgets!42") {
		t.Fatalf("missing MR: %v", err)
	}
}
