package webhook

import (
	"net/http"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trainyard/trainyard/internal/forge"
)

// A project's own secret speaks for that project alone; the forge's for
// every project without one.
func TestProjectSecrets(t *testing.T) {
	t.Parallel()
	const own = "hello-world-own-secret"
	r := newRig(t, withOptions(func(o *Options) {
		o.GitHubProjects = map[string]string{"codertocat/hello-world": own}
		o.GitLabProjects = map[string]string{"other/project": own}
	}))
	body := fixture(t, "github/pull_request_opened.json") // Codertocat/Hello-World
	signed := func(secret string) delivery {
		d := githubDelivery(t, "pull_request", body)
		d.header.Set("X-Hub-Signature-256", sign(secret, body))
		return d
	}
	expectAnswer(t, r.send(signed(ghSecret)), http.StatusUnauthorized, "error", "invalid X-Hub-Signature-256")
	r.expectNothingQueued()
	if got := r.send(signed(own)); got.code != http.StatusAccepted || got.status != "queued" {
		t.Fatalf("delivery signed with the project's own secret: %d %s", got.code, got.raw)
	}
	if evs := r.events(); len(evs) != 1 || evs[0].Project != "Codertocat/Hello-World" {
		t.Fatalf("queued %+v", evs)
	}

	// GitLab's note is for gitlab-org/gitlab-test, which has no secret
	// of its own: another project's secret may not speak for it.
	note := fixture(t, "gitlab/note_hook_merge_request.json")
	d := gitlabDelivery(t, "Note Hook", note)
	d.header.Set("X-Gitlab-Token", own)
	expectAnswer(t, r.send(d), http.StatusUnauthorized, "error", "invalid X-Gitlab-Token")
	if got := r.send(gitlabDelivery(t, "Note Hook", note)); got.code != http.StatusAccepted || got.status != "queued" {
		t.Fatalf("note with the forge's secret: %d %s", got.code, got.raw)
	}
	if got := r.counts.snapshot()["github/unknown/unauthorized"] + r.counts.snapshot()["github/pull_request/unauthorized"]; got != 1 {
		t.Errorf("github refusals counted %d, want 1: %v", got, r.counts.snapshot())
	}
}

func TestUnknownProjectIsIgnoredCountedAndLoggedOnce(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	r := newRig(t, withOptions(func(o *Options) {
		o.Logger = zap.New(core)
		o.Known = func(forge, project string) bool { return forge == "github" && project == "acme/widgets" }
	}))
	body := fixture(t, "github/pull_request_opened.json") // Codertocat/Hello-World
	for range 3 {
		expectAnswer(t, r.send(githubDelivery(t, "pull_request", body)), http.StatusAccepted, "reason",
			"project Codertocat/Hello-World is not configured")
	}
	r.expectNothingQueued()
	if got := r.counts.snapshot()["github/pull_request/unknown_project"]; got != 3 {
		t.Errorf("counted %d unknown-project deliveries, want 3: %v", got, r.counts.snapshot())
	}
	found := logs.FilterMessageSnippet("not in the configuration").All()
	if len(found) != 1 || found[0].ContextMap()["project"] != "Codertocat/Hello-World" {
		t.Fatalf("logged %d times, want once naming the project: %+v", len(found), found)
	}
	// A bad signature for an unknown project is still a bad signature.
	d := githubDelivery(t, "pull_request", body)
	d.header.Set("X-Hub-Signature-256", sign("other", body))
	expectAnswer(t, r.send(d), http.StatusUnauthorized, "error", "invalid X-Hub-Signature-256")
}

// A look-alike of a project with its own secret ("ſ", long s, folds to
// "s" in Unicode) is not that project: the forge's secret may not speak
// for it under another spelling.
func TestAProjectSecretHoldsForLookAlikePaths(t *testing.T) {
	t.Parallel()
	const own = "gitlab-test-own-secret"
	r := newRig(t, withOptions(func(o *Options) {
		o.GitLabProjects = map[string]string{"gitlab-org/gitlab-test": own}
		o.Known = func(f, p string) bool { return f == "gitlab" && forge.SameProject(p, "gitlab-org/gitlab-test") }
	}))
	note := fixture(t, "gitlab/note_hook_merge_request.json")
	expectAnswer(t, r.send(gitlabDelivery(t, "Note Hook", note)), http.StatusUnauthorized, "error", "invalid X-Gitlab-Token")
	for _, path := range []string{"gitlab-org/gitlab-te\u017ft", "GITLAB-ORG/gitlab-te\u017ft", "gitlab-org/gitlab-\u0442est"} {
		spoof := edited(t, "gitlab/note_hook_merge_request.json", func(m map[string]any) {
			obj(t, m, "project")["path_with_namespace"] = path
		})
		got := r.send(gitlabDelivery(t, "Note Hook", spoof))
		if got.code == http.StatusAccepted && got.status == "queued" {
			t.Errorf("%q with the forge's secret was queued", path)
		}
	}
	r.expectNothingQueued()
	// The project's own spelling in other cases is still the project.
	loud := edited(t, "gitlab/note_hook_merge_request.json", func(m map[string]any) {
		obj(t, m, "project")["path_with_namespace"] = "GitLab-Org/GitLab-Test"
	})
	d := gitlabDelivery(t, "Note Hook", loud)
	d.header.Set("X-Gitlab-Token", own)
	if got := r.send(d); got.code != http.StatusAccepted || got.status != "queued" {
		t.Fatalf("the project in capitals, with its own secret: %d %s", got.code, got.raw)
	}
}
