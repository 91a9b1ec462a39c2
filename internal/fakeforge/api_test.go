package fakeforge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

func TestAPIProjectsUsersMembers(t *testing.T) {
	f := newForge(t, nil)
	p := mustProject(t, f, project1, nil)
	c := client(t, f, botToken)

	for _, id := range []any{project1, int(p.ID)} {
		got, _, err := c.Projects.GetProject(id, nil)
		if err != nil {
			t.Fatalf("GetProject(%v): %v", id, err)
		}
		if got.ID != p.ID || got.PathWithNamespace != project1 || got.DefaultBranch != "main" ||
			got.HTTPURLToRepo != f.CloneURL(project1) || got.Namespace.FullPath != "acme" {
			t.Fatalf("GetProject(%v) = %+v", id, got)
		}
	}
	if _, _, err := c.Projects.GetProject("acme/none", nil); !errors.Is(err, gitlab.ErrNotFound) {
		t.Fatalf("missing project: %v, want ErrNotFound", err)
	}

	me, _, err := c.Users.CurrentUser()
	if err != nil || me.Username != botName || !me.IsAdmin {
		t.Fatalf("CurrentUser = %+v, %v", me, err)
	}
	dev := f.AddUser("dev")
	if err := f.SetAccess(project1, "dev", Developer); err != nil {
		t.Fatal(err)
	}
	users, _, err := c.Users.ListUsers(&gitlab.ListUsersOptions{Username: gitlab.Ptr("dev")})
	if err != nil || len(users) != 1 || users[0].ID != dev.ID {
		t.Fatalf("ListUsers(dev) = %v, %v", users, err)
	}
	if users, _, err := c.Users.ListUsers(&gitlab.ListUsersOptions{Username: gitlab.Ptr("ghost")}); err != nil || len(users) != 0 {
		t.Fatalf("ListUsers(ghost) = %v, %v", users, err)
	}
	m, _, err := c.ProjectMembers.GetInheritedProjectMember(project1, dev.ID)
	if err != nil || m.AccessLevel != gitlab.DeveloperPermissions || m.Username != "dev" {
		t.Fatalf("member dev = %+v, %v", m, err)
	}
	outsider := f.AddUser("outsider")
	if _, _, err := c.ProjectMembers.GetInheritedProjectMember(project1, outsider.ID); !errors.Is(err, gitlab.ErrNotFound) {
		t.Fatalf("non-member: %v, want ErrNotFound", err)
	}
}

func TestAPIRefusesWithoutToken(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	for name, c := range map[string]*gitlab.Client{"bad": client(t, f, "nope"), "none": client(t, f, "")} {
		_, resp, err := c.Projects.GetProject(project1, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s token: resp %v err %v, want 401", name, resp, err)
		}
	}
	// Bearer works as PRIVATE-TOKEN does.
	req, _ := http.NewRequest(http.MethodGet, f.URL()+"/api/v4/user", nil)
	req.Header.Set("Authorization", "Bearer "+botToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("bearer: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestAPIMergeRequestsAndNotes(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	c := client(t, f, botToken)
	ctx := context.Background()
	a := mustMR(t, f, MRSpec{Source: "a", Title: "A", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	b := mustMR(t, f, MRSpec{Source: "b", Title: "B", Draft: true, Author: "bob", Commits: []Commit{{Files: map[string]string{"b": "b"}}}})
	if err := f.CloseMR(ctx, project1, b.IID, "bob"); err != nil {
		t.Fatal(err)
	}

	got, _, err := c.MergeRequests.GetMergeRequest(project1, a.IID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.IID != a.IID || got.State != StateOpened || got.SHA != a.SHA || got.SourceBranch != "a" ||
		got.TargetBranch != "main" || got.Author.Username != "alice" || got.Title != "A" || got.Draft ||
		got.WebURL != f.URL()+"/acme/widgets/-/merge_requests/1" {
		t.Fatalf("GetMergeRequest = %+v", got)
	}
	if _, _, err := c.MergeRequests.GetMergeRequest(project1, 99, nil); !errors.Is(err, gitlab.ErrNotFound) {
		t.Fatalf("missing MR: %v", err)
	}

	for state, want := range map[string][]int64{"opened": {a.IID}, "closed": {b.IID}, "all": {b.IID, a.IID}} {
		list, _, err := c.MergeRequests.ListProjectMergeRequests(project1, &gitlab.ListProjectMergeRequestsOptions{State: gitlab.Ptr(state)})
		if err != nil {
			t.Fatal(err)
		}
		var iids []int64
		for _, m := range list {
			iids = append(iids, m.IID)
		}
		if fmt.Sprint(iids) != fmt.Sprint(want) {
			t.Fatalf("state %s: iids %v, want %v", state, iids, want)
		}
	}

	for i := range 25 {
		if _, _, err := c.Notes.CreateMergeRequestNote(project1, a.IID, &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr("note " + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	var bodies []string
	opt := &gitlab.ListMergeRequestNotesOptions{ListOptions: gitlab.ListOptions{PerPage: 10}, Sort: gitlab.Ptr("asc")}
	for {
		notes, resp, err := c.Notes.ListMergeRequestNotes(project1, a.IID, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range notes {
			if n.Author.Username != botName || n.NoteableIID != a.IID {
				t.Fatalf("note %+v", n)
			}
			bodies = append(bodies, n.Body)
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if len(bodies) != 25 || bodies[0] != "note 0" || bodies[24] != "note 24" {
		t.Fatalf("paged notes: %d, first %q last %q", len(bodies), bodies[0], bodies[len(bodies)-1])
	}
	newest, _, err := c.Notes.ListMergeRequestNotes(project1, a.IID, nil)
	if err != nil || len(newest) != 20 || newest[0].Body != "note 24" {
		t.Fatalf("default note list: %d notes, %v", len(newest), err)
	}
	ctrl, err := f.Notes(project1, a.IID)
	if err != nil || len(ctrl) != 25 || ctrl[3].Body != "note 3" {
		t.Fatalf("control Notes: %d, %v", len(ctrl), err)
	}
	_, resp, err := c.Notes.CreateMergeRequestNote(project1, a.IID, &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr(strings.Repeat("x", 1_000_001))})
	if err == nil || resp.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), "is too long (maximum is 1000000 characters)") {
		t.Fatalf("long note: %v", err)
	}
}

func TestAPIBranches(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	c := client(t, f, botToken)
	ctx := context.Background()
	head, err := f.PushBranch(ctx, project1, "train/car-1", "alice", Commit{Message: "car\n\nbody", Files: map[string]string{"x": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	main, _ := f.BranchHead(ctx, project1, "main")
	b, _, err := c.Branches.GetBranch(project1, "train/car-1")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "train/car-1" || b.Commit.ID != head || b.Commit.Title != "car" || b.Default ||
		len(b.Commit.ParentIDs) != 1 || b.Commit.ParentIDs[0] != main {
		t.Fatalf("GetBranch = %+v commit %+v", b, b.Commit)
	}
	if _, err := c.Branches.DeleteBranch(project1, "train/car-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Branches.GetBranch(project1, "train/car-1"); !errors.Is(err, gitlab.ErrNotFound) {
		t.Fatalf("deleted branch: %v", err)
	}
	if _, err := c.Branches.DeleteBranch(project1, "train/car-1"); !errors.Is(err, gitlab.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	if resp, err := c.Branches.DeleteBranch(project1, "main"); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("delete default branch: %v", err)
	}
}

func TestCallCounters(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	c := client(t, f, botToken)
	for range 3 {
		c.Projects.GetProject(project1, nil)
	}
	c.MergeRequests.GetMergeRequest(project1, 5, nil)
	calls := f.Calls()
	if calls["GET /projects/{id}"] != 3 || calls["GET /projects/{id}/merge_requests/{iid}"] != 1 || len(calls) != 2 {
		t.Fatalf("Calls = %v", calls)
	}
}

// An MR from a fork's branch names the fork as its source project, which
// tells it from an MR of this project's branch of the same name; a push
// to that branch here moves only this project's MR, and a merge into
// the target leaves the fork's open.
func TestAPIForkMergeRequest(t *testing.T) {
	f := newForge(t, nil)
	p := mustProject(t, f, project1, nil)
	fork := mustProject(t, f, "mallory/widgets", nil)
	ctx := context.Background()
	own := mustMR(t, f, MRSpec{Source: "feature", Description: "ours", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	theirs := mustMR(t, f, MRSpec{Source: "feature", Fork: "mallory/widgets", Author: "mallory", Commits: []Commit{{Files: map[string]string{"x": "x"}}}})
	c := client(t, f, botToken)
	list, _, err := c.MergeRequests.ListProjectMergeRequests(project1, &gitlab.ListProjectMergeRequestsOptions{
		SourceBranch: gitlab.Ptr("feature"), State: gitlab.Ptr("opened"), Sort: gitlab.Ptr("asc"),
	})
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v, %v", list, err)
	}
	if m := list[0]; m.IID != own.IID || m.SourceProjectID != p.ID || m.TargetProjectID != p.ID || m.Description != "ours" {
		t.Errorf("own MR: iid %d, source %d, target %d, description %q", m.IID, m.SourceProjectID, m.TargetProjectID, m.Description)
	}
	if m := list[1]; m.IID != theirs.IID || m.SourceProjectID != fork.ID || m.TargetProjectID != p.ID {
		t.Errorf("fork's MR: iid %d, source %d, target %d; want source %d", m.IID, m.SourceProjectID, m.TargetProjectID, fork.ID)
	}
	if _, err := f.PushToMR(ctx, project1, own.IID, Commit{Files: map[string]string{"a": "a2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.MergeMR(ctx, project1, own.IID, "carol"); err != nil {
		t.Fatal(err)
	}
	got, err := f.MR(project1, theirs.IID)
	if err != nil || got.SHA != theirs.SHA || got.State != StateOpened {
		t.Fatalf("fork's MR after a push and a merge here: %+v, %v; want head %s, open", got, err, theirs.SHA)
	}
}
