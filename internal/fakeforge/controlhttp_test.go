package fakeforge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

const controlToken = "control-token-0123456789"

// newControlForge starts a forge serving the control API, with manual CI
// that starts a pipeline on every push.
func newControlForge(t *testing.T) *Forge {
	t.Helper()
	opts := Options{Dir: t.TempDir(), Tokens: map[string]string{botToken: botName}, Seed: 7,
		CI: CI{Manual: true, OnPush: true}}
	f, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := f.StartWithControl(context.Background(), controlToken); err != nil {
		t.Fatalf("StartWithControl: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// call sends one control request and returns the status and the body.
func call(t *testing.T, f *Forge, token, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.URL()+ControlPrefix+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// mustCall sends a request that must answer want, and decodes its body.
func mustCall(t *testing.T, f *Forge, method, path, body string, want int, v any) {
	t.Helper()
	status, got := call(t, f, controlToken, method, path, body)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, got, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(got), v); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, got, err)
		}
	}
}

func TestControlAPIDrivesTheForge(t *testing.T) {
	f := newControlForge(t)
	hooks := newSink(t, f, "")
	var p ControlProject
	mustCall(t, f, "POST", "/projects", `{"path":"acme/widgets","files":{"README.md":"hi\n","VERSION":"1.0\n"},"members":{"alice":"developer"}}`, 201, &p)
	if p.Path != project1 || p.DefaultBranch != "main" || p.CloneURL != f.URL()+"/acme/widgets.git" {
		t.Fatalf("project = %+v", p)
	}
	var u ControlUser
	mustCall(t, f, "POST", "/users", `{"username":"bob","token":"bob-token-1234"}`, 201, &u)
	var mem ControlMember
	mustCall(t, f, "PUT", "/projects/acme%2Fwidgets/members/bob", `{"access":"maintainer"}`, 200, &mem)
	if mem.Access != Maintainer || mem.Role != "maintainer" {
		t.Fatalf("member = %+v", mem)
	}

	var one, two, three ControlMR
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/mrs", `{"source_branch":"feature-1","title":"One","author":"alice","files":{"VERSION":"1.1\n"}}`, 201, &one)
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/mrs", `{"source_branch":"feature-2","author":"alice","conflicts_with":1}`, 201, &two)
	mustCall(t, f, "POST", "/projects/"+itoa(p.ID)+"/mrs", `{"source_branch":"feature-3","author":"bob","fail":true}`, 201, &three)

	if opened, _ := hooks.events(t, f, EventMergeRequest); len(opened) != 3 ||
		opened[2].(*gitlab.MergeEvent).ObjectAttributes.Action != "open" || opened[2].(*gitlab.MergeEvent).ObjectAttributes.IID != three.IID {
		t.Fatalf("merge request events = %+v", opened)
	}
	// The MRs are the forge's: the GitLab API shows them.
	gl := client(t, f, botToken)
	got, _, err := gl.MergeRequests.GetMergeRequest(project1, one.IID, nil)
	if err != nil || got.Title != "One" || got.SourceBranch != "feature-1" || got.SHA != one.SHA || got.Author.Username != "alice" {
		t.Fatalf("GitLab API MR = %+v, %v", got, err)
	}
	// The conflicting MR cannot merge with the first; the failing one
	// holds the marker.
	g := f.repo(project1)
	if _, err := g.mergeCommit(context.Background(), one.SHA, two.SHA, "m", f.sig(&user{Name: "t"})); err == nil {
		t.Fatal("!1 and !2 merge cleanly")
	}
	if paths, err := g.paths(context.Background(), three.SHA); err != nil || !contains(paths, DefaultFailMarker) {
		t.Fatalf("!3 tree = %v, %v", paths, err)
	}

	var note ControlNote
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/mrs/1/comments", `{"author":"alice","body":"/train add"}`, 201, &note)
	evs, _ := hooks.events(t, f, EventNote)
	if len(evs) != 1 || evs[0].(*gitlab.MergeCommentEvent).ObjectAttributes.Note != "/train add" ||
		evs[0].(*gitlab.MergeCommentEvent).User.Username != "alice" {
		t.Fatalf("note events = %+v", evs)
	}

	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/mrs/1/approve", `{"user":"bob"}`, 200, nil)
	status, body := call(t, f, controlToken, "POST", "/projects/acme%2Fwidgets/mrs/1/approve", `{"user":"bob"}`)
	if status != 409 || body != `{"message":"bob has approved !1 already"}` {
		t.Fatalf("second approval: %d %s", status, body)
	}

	var push ControlPush
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/mrs/1/push", `{"message":"more","files":{"more.txt":"x\n"}}`, 200, &push)
	if mr, _ := f.MR(project1, 1); push.Branch != "feature-1" || mr.SHA != push.SHA {
		t.Fatalf("push = %+v, MR head %s", push, mr.SHA)
	}
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/push", `{"author":"bob","message":"hotfix","files":{"hotfix.txt":"x\n"}}`, 200, &push)
	if head, _ := f.BranchHead(context.Background(), project1, "main"); push.Branch != "main" || head != push.SHA {
		t.Fatalf("push = %+v, main at %s", push, head)
	}
	pushes, _ := hooks.events(t, f, EventPush)
	if len(pushes) == 0 || pushes[len(pushes)-1].(*gitlab.PushEvent).After != push.SHA {
		t.Fatalf("push events = %+v", pushes)
	}

	var mrs []ControlMR
	mustCall(t, f, "GET", "/projects/acme%2Fwidgets/mrs?state=opened", "", 200, &mrs)
	if len(mrs) != 3 || mrs[0].IID != 3 {
		t.Fatalf("mrs = %+v", mrs)
	}
	var pls []ControlPipeline
	mustCall(t, f, "GET", "/projects/acme%2Fwidgets/pipelines?status=running", "", 200, &pls)
	waitFor(t, "a running pipeline", func() bool {
		mustCall(t, f, "GET", "/projects/acme%2Fwidgets/pipelines?status=running", "", 200, &pls)
		return len(pls) > 0
	})
	var done ControlPipeline
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/pipelines/"+itoa(pls[0].ID)+"/finish", `{"status":"failed"}`, 200, &done)
	if done.Status != PipelineFailed || done.ID != pls[0].ID {
		t.Fatalf("finished = %+v", done)
	}
	status, body = call(t, f, controlToken, "POST", "/projects/acme%2Fwidgets/pipelines/"+itoa(done.ID)+"/finish", `{"status":"success"}`)
	if want := `{"message":"pipeline ` + itoa(done.ID) + ` is failed, and finished or being finished already"}`; status != 409 || body != want {
		t.Fatalf("finishing twice: %d %s, want 409 %s", status, body, want)
	}
	plEvents, _ := hooks.events(t, f, EventPipeline)
	last := plEvents[len(plEvents)-1].(*gitlab.PipelineEvent)
	if last.ObjectAttributes.ID != done.ID || last.ObjectAttributes.Status != PipelineFailed {
		t.Fatalf("last pipeline event = %+v", last.ObjectAttributes)
	}
	var projects []ControlProject
	mustCall(t, f, "GET", "/projects", "", 200, &projects)
	if len(projects) != 1 || projects[0] != p {
		t.Fatalf("projects = %+v", projects)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestControlAPIRefusals(t *testing.T) {
	f := newControlForge(t)
	mustCall(t, f, "POST", "/projects", `{"path":"acme/widgets"}`, 201, nil)
	mustCall(t, f, "POST", "/projects/acme%2Fwidgets/mrs", `{"source_branch":"s","author":"alice"}`, 201, nil)
	for _, tc := range []struct {
		name, token, method, path, body string
		status                          int
		message                         string
	}{
		{"no token", "", "GET", "/projects", "", 401, "401 Unauthorized: send the control token as Authorization: Bearer TOKEN"},
		{"wrong token", "nope", "GET", "/projects", "", 401, "401 Unauthorized: send the control token as Authorization: Bearer TOKEN"},
		{"a forge token", botToken, "GET", "/projects", "", 401, "401 Unauthorized: send the control token as Authorization: Bearer TOKEN"},
		{"no body", controlToken, "POST", "/projects", "", 400, "body is empty: want a JSON object"},
		{"not JSON", controlToken, "POST", "/projects", `{"path":`, 400, "body: not valid JSON: it ends too early"},
		{"unknown field", controlToken, "POST", "/projects", `{"path":"a/b","fils":{}}`, 400, `body: unknown field "fils"`},
		{"wrong type", controlToken, "POST", "/projects", `{"path":7}`, 400, "body: field path: want a string, not number"},
		{"two objects", controlToken, "POST", "/projects", `{"path":"a/b"}{}`, 400, "body: want one JSON object, found more after it"},
		{"bad path", controlToken, "POST", "/projects", `{"path":"widgets"}`, 400, `path "widgets": has no group; want group/name, such as acme/widgets`},
		{"escaping path", controlToken, "POST", "/projects", `{"path":"acme/../etc"}`, 400, `path "acme/../etc": each segment must start with a letter or digit and hold only letters, digits, '.', '_' and '-'; want group/name, such as acme/widgets`},
		{"exists", controlToken, "POST", "/projects", `{"path":"acme/widgets"}`, 409, "project acme/widgets already exists"},
		{"bad role", controlToken, "PUT", "/projects/acme%2Fwidgets/members/bob", `{"access":"boss"}`, 400, `access: "boss": want none, guest, reporter, developer, maintainer or owner (or 0, 10, 20, 30, 40, 50)`},
		{"unknown project", controlToken, "GET", "/projects/acme%2Fnope/mrs", "", 404, "project acme/nope not found"},
		{"unknown MR", controlToken, "POST", "/projects/acme%2Fwidgets/mrs/9/comments", `{"author":"a","body":"hi"}`, 404, "merge request !9 of acme/widgets not found"},
		{"bad iid", controlToken, "GET", "/projects/acme%2Fwidgets/mrs/x", "", 400, `merge request iid "x": want a positive number`},
		{"unknown pipeline", controlToken, "POST", "/projects/acme%2Fwidgets/pipelines/999/finish", `{"status":"success"}`, 404, "pipeline 999 of acme/widgets not found"},
		{"bad status", controlToken, "POST", "/projects/acme%2Fwidgets/pipelines/1/finish", `{"status":"green"}`, 400, `status "green": want success, failed or canceled`},
		{"no author", controlToken, "POST", "/projects/acme%2Fwidgets/mrs", `{"source_branch":"t"}`, 400, "author: is empty"},
		{"bad branch", controlToken, "POST", "/projects/acme%2Fwidgets/mrs", `{"source_branch":"a..b","author":"a"}`, 400, `source_branch "a..b": is not a valid git branch name`},
		{"unknown target", controlToken, "POST", "/projects/acme%2Fwidgets/mrs", `{"source_branch":"t","target_branch":"dev","author":"a"}`, 404, "target_branch dev of acme/widgets not found"},
		{"open already", controlToken, "POST", "/projects/acme%2Fwidgets/mrs", `{"source_branch":"s","author":"a"}`, 409, "merge request !1 from s into main is open already"},
		{"conflict with nothing", controlToken, "POST", "/projects/acme%2Fwidgets/mrs", `{"source_branch":"t","author":"a","conflicts_with":5}`, 404, "conflicts_with: merge request !5 of acme/widgets not found"},
		{"bad file", controlToken, "POST", "/projects/acme%2Fwidgets/push", `{"author":"a","files":{".git/config":"x"}}`, 400, `files: file path ".git/config": segments may not be empty, '.', '..' or '.git'`},
		{"empty push", controlToken, "POST", "/projects/acme%2Fwidgets/push", `{"author":"a"}`, 400, "nothing to push: give files, delete or fail"},
		{"token theft", controlToken, "POST", "/users", `{"username":"mallory","token":"` + botToken + `"}`, 409, "token: already belongs to another user"},
		{"unknown endpoint", controlToken, "DELETE", "/projects", "", 404, "no control endpoint DELETE /-/control/projects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, f, tc.token, tc.method, tc.path, tc.body)
			var e ControlError
			if err := json.Unmarshal([]byte(body), &e); err != nil || status != tc.status || e.Message != tc.message {
				t.Fatalf("%d %s\nwant %d %q", status, body, tc.status, tc.message)
			}
		})
	}
	big := `{"path":"a/b","files":{"f":"` + strings.Repeat("x", maxControlBody) + `"}}`
	if status, _ := call(t, f, controlToken, "POST", "/projects", big); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", status)
	}
	if _, err := f.ControlHandler("short"); err == nil {
		t.Fatal("a short control token was accepted")
	}
}

// TestReflogKeepsEveryPosition: every position the target branch takes,
// through the control API or a git push, is in the bare repository's
// reflog.
func TestReflogKeepsEveryPosition(t *testing.T) {
	f := newControlForge(t)
	mustProject(t, f, project1, nil)
	if err := f.SetAccess(project1, botName, Maintainer); err != nil {
		t.Fatal(err)
	}
	first, _ := f.BranchHead(context.Background(), project1, "main")
	want := []string{first}
	for i := range 3 {
		var push ControlPush
		mustCall(t, f, "POST", "/projects/acme%2Fwidgets/push", `{"author":"alice","files":{"f.txt":"`+itoa(int64(i))+`"}}`, 200, &push)
		want = append(want, push.SHA)
	}
	dir := t.TempDir()
	mustGit(t, dir, authed(botToken, "clone", "--quiet", f.CloneURL(project1), "w")...)
	mustGit(t, dir+"/w", "commit", "--quiet", "--allow-empty", "-m", "over git")
	mustGit(t, dir+"/w", authed(botToken, "push", "--quiet", "origin", "main")...)
	want = append(want, mustGit(t, dir+"/w", "rev-parse", "HEAD"))

	// Who moved the branch: the forge itself, then the bot over git.
	who := []string{"fakeforge", "fakeforge", "fakeforge", "fakeforge", botName}
	log := mustGit(t, repoDir(f.opts.Dir, project1), "log", "-g", "--format=%H %gn", "main")
	got := strings.Split(log, "\n")
	if len(got) != len(want) {
		t.Fatalf("reflog of main:\n%s\nwant %d entries", log, len(want))
	}
	for i := range want { // the reflog is newest first
		if got[len(got)-1-i] != want[i]+" "+who[i] {
			t.Fatalf("reflog of main:\n%s\nwant, oldest first, %v by %v", log, want, who)
		}
	}
}
