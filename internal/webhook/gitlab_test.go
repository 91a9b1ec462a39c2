package webhook

import (
	"net/http"
	"strings"
	"testing"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/train"
)

const (
	glOpenSHA     = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
	glPipelineSHA = "bcbb5ec396a2c0f828686f14fac9b80b780504f2"
	glPushBefore  = "95790bf891e76fee5e1747ab589903a6a1f80f22"
)

func glMR(project string, user event.User, mr int64, action, head, target string) event.Event {
	return event.Event{Forge: "gitlab", Project: project, Kind: event.KindMR, User: user, MR: mr,
		Action: action, HeadSHA: head, TargetBranch: target}
}

func glNote(user event.User, body string) event.Event {
	return event.Event{Forge: "gitlab", Project: "gitlab-org/gitlab-test", Kind: event.KindComment,
		User: user, MR: 1, CommentID: 1244, Body: body}
}

func glPipeline(user event.User, status train.PipelineState) event.Event {
	return event.Event{Forge: "gitlab", Project: "gitlab-org/gitlab-test", Kind: event.KindPipeline, User: user,
		MR: 1, Pipeline: 31, SHA: glPipelineSHA, Ref: "master", Status: status, Source: "merge_request_event", Parent: 30}
}

func glPush() event.Event {
	return event.Event{Forge: "gitlab", Project: "mike/diaspora", Kind: event.KindPush,
		User: event.User{ID: 4, Username: "jsmith"}, Ref: "master", Before: glPushBefore, After: glOpenSHA}
}

var (
	glRoot  = event.User{ID: 1, Username: "root"}
	glUser1 = event.User{ID: 1, Username: "user1"}
	glUser4 = event.User{ID: 42, Username: "user1"}
)

// TestGitLabFixtures posts every GitLab fixture as GitLab would and checks
// the exact event queued, or the exact answer when none is.
func TestGitLabFixtures(t *testing.T) {
	t.Parallel()
	queuedCases := []struct {
		file, kind string
		want       event.Event
	}{
		{"merge_request_hook_open.json", "Merge Request Hook",
			glMR("gitlabhq/gitlab-test", glUser1, 1, event.ActionOpen, glOpenSHA, "master")},
		{"merge_request_hook_open.gitlab-docs.json", "Merge Request Hook",
			glMR("gitlabhq/gitlab-test", glRoot, 1, event.ActionOpen, glOpenSHA, "master")},
		{"merge_request_hook_update.json", "Merge Request Hook",
			glMR("test/woodpecker", event.User{ID: 2, Username: "test"}, 2, event.ActionUpdate, "0ab96a10266b95b4b533dcfd98738015fbe70889", "master")},
		{"note_hook_merge_request.json", "Note Hook", glNote(glRoot, "This MR needs work.")},
		{"pipeline_hook_success.json", "Pipeline Hook", glPipeline(glUser4, train.PipelineSuccess)},
		{"pipeline_hook_success.gitlab-docs.json", "Pipeline Hook", glPipeline(glRoot, train.PipelineSuccess)},
		{"push_hook.json", "Push Hook", glPush()},
		{"push_hook.gitlab-docs.json", "Push Hook", glPush()},
	}
	for _, c := range queuedCases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			d := gitlabDelivery(t, c.kind, fixture(t, "gitlab/"+c.file))
			c.want.ID = d.header.Get("Idempotency-Key")
			r.expectQueued(d, c.want)
		})
	}
	answerCases := []struct {
		file, kind   string
		code         int
		field, value string
	}{
		{"job_hook_success.json", "Job Hook", http.StatusAccepted, "reason", "event type Job Hook not used"},
		{"job_hook_created.json", "Job Hook", http.StatusAccepted, "reason", "event type Job Hook not used"},
		// This group hook example has keys with trailing spaces ("iid "), so
		// it names no MR.
		{"merge_request_hook_merge.json", "Merge Request Hook", http.StatusBadRequest, "error",
			"unusable Merge Request Hook payload: event %s: mr event without an MR"},
		// The docs example has a broken commit timestamp, which client-go
		// rejects.
		{"note_hook_merge_request.gitlab-docs.json", "Note Hook", http.StatusBadRequest, "error",
			`malformed Note Hook payload: parsing time "2015-04-08T21: 00:25-07:00" as "2006-01-02T15:04:05Z07:00": cannot parse " 00:25-07:00" as "04"`},
	}
	for _, c := range answerCases {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			d := gitlabDelivery(t, c.kind, fixture(t, "gitlab/"+c.file))
			want := c.value
			if strings.Contains(want, "%s") {
				want = strings.ReplaceAll(want, "%s", d.header.Get("Idempotency-Key"))
			}
			expectAnswer(t, r.send(d), c.code, c.field, want)
			r.expectNothingQueued()
		})
	}
}

// TestGitLabEditedFixtures covers what no published payload shows, each
// made from a real payload with one field changed.
func TestGitLabEditedFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file, kind string
		edit             func(t *testing.T, m map[string]any)
		want             event.Event
	}{
		{"train command", "note_hook_merge_request.json", "Note Hook",
			func(t *testing.T, m map[string]any) { obj(t, m, "object_attributes")["note"] = "/train add" },
			glNote(glRoot, "/train add")},
		{"docs note with its timestamp fixed", "note_hook_merge_request.gitlab-docs.json", "Note Hook",
			func(t *testing.T, m map[string]any) {
				obj(t, m, "merge_request", "last_commit")["timestamp"] = "2015-04-08T21:00:25-07:00"
			},
			glNote(glRoot, "This MR needs work.")},
		{"merge with an iid", "merge_request_hook_merge.json", "Merge Request Hook",
			func(t *testing.T, m map[string]any) { obj(t, m, "object_attributes")["iid"] = 7 },
			glMR("exm-namespace/example-project", glUser4, 7, event.ActionMerge, "61b6a0d35dbaf915760233b637622e383d3cc9ec", "")},
		{"close", "merge_request_hook_open.json", "Merge Request Hook",
			func(t *testing.T, m map[string]any) { obj(t, m, "object_attributes")["action"] = "close" },
			glMR("gitlabhq/gitlab-test", glUser1, 1, event.ActionClose, glOpenSHA, "master")},
		{"reopen", "merge_request_hook_open.json", "Merge Request Hook",
			func(t *testing.T, m map[string]any) { obj(t, m, "object_attributes")["action"] = "reopen" },
			glMR("gitlabhq/gitlab-test", glUser1, 1, event.ActionReopen, glOpenSHA, "master")},
		{"retarget", "merge_request_hook_update.json", "Merge Request Hook",
			func(t *testing.T, m map[string]any) {
				obj(t, m, "changes")["target_branch"] = map[string]any{"previous": "develop", "current": "master"}
			},
			func() event.Event {
				ev := glMR("test/woodpecker", event.User{ID: 2, Username: "test"}, 2, event.ActionRetarget, "0ab96a10266b95b4b533dcfd98738015fbe70889", "master")
				ev.OldTargetBranch = "develop"
				return ev
			}()},
		{"running pipeline", "pipeline_hook_success.json", "Pipeline Hook",
			func(t *testing.T, m map[string]any) { obj(t, m, "object_attributes")["status"] = "running" },
			glPipeline(glUser4, train.PipelineRunning)},
		{"manual pipeline", "pipeline_hook_success.json", "Pipeline Hook",
			func(t *testing.T, m map[string]any) { obj(t, m, "object_attributes")["status"] = "manual" },
			glPipeline(glUser4, train.PipelinePending)},
		{"failed pipeline", "pipeline_hook_success.json", "Pipeline Hook",
			func(t *testing.T, m map[string]any) { obj(t, m, "object_attributes")["status"] = "failed" },
			glPipeline(glUser4, train.PipelineFailed)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			body := edited(t, "gitlab/"+c.file, func(m map[string]any) { c.edit(t, m) })
			d := gitlabDelivery(t, c.kind, body)
			c.want.ID = d.header.Get("Idempotency-Key")
			r.expectQueued(d, c.want)
		})
	}
}

// TestGitLabIgnored checks the deliveries answered 202 and not queued.
func TestGitLabIgnored(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	note := func(edit func(oa map[string]any)) []byte {
		return edited(t, "gitlab/note_hook_merge_request.json", func(m map[string]any) { edit(obj(t, m, "object_attributes")) })
	}
	cases := []struct {
		name, kind string
		body       []byte
		reason     string
	}{
		{"issue hook", "Issue Hook", []byte(`{"object_kind":"issue"}`), "event type Issue Hook not used"},
		{"unknown hook", "Frobnicate Hook", []byte(`{}`), "event type Frobnicate Hook not used"},
		{"no event header", "", []byte(`{}`), "event type unknown not used"},
		{"note on a commit", "Note Hook", note(func(oa map[string]any) { oa["noteable_type"] = "Commit" }),
			"note on Commit, not on a merge request"},
		{"note on an issue", "Note Hook", note(func(oa map[string]any) { oa["noteable_type"] = "Issue" }),
			"note on Issue, not on a merge request"},
		{"note on a new kind of thing", "Note Hook", note(func(oa map[string]any) { oa["noteable_type"] = "Epic" }),
			"note on Epic, not on a merge request"},
		{"not a note", "Note Hook", edited(t, "gitlab/note_hook_merge_request.json", func(m map[string]any) { m["object_kind"] = "issue" }),
			`note payload of object kind "issue"`},
		{"edited note", "Note Hook", note(func(oa map[string]any) { oa["action"] = "update" }),
			"note action update not used"},
		{"system note", "Note Hook", note(func(oa map[string]any) { oa["system"] = true }), "system note"},
		{"internal note", "Confidential Note Hook", note(func(oa map[string]any) { oa["internal"], oa["note"] = true, "/train freeze the secret plan" }),
			"internal note: commands are taken from public comments only"},
		{"approval", "Merge Request Hook", edited(t, "gitlab/merge_request_hook_open.json", func(m map[string]any) {
			obj(t, m, "object_attributes")["action"] = "approved"
		}), `merge request action "approved" not used`},
		{"unknown pipeline status", "Pipeline Hook", edited(t, "gitlab/pipeline_hook_success.json", func(m map[string]any) {
			obj(t, m, "object_attributes")["status"] = "exploded"
		}), `pipeline status "exploded" not used`},
		{"tag push", "Push Hook", edited(t, "gitlab/push_hook.json", func(m map[string]any) { m["ref"] = "refs/tags/v1.0" }),
			"push to refs/tags/v1.0 is not to a branch"},
	}
	for _, c := range cases {
		expectAnswer(t, r.send(gitlabDelivery(t, c.kind, c.body)), http.StatusAccepted, "reason", c.reason)
	}
	r.expectNothingQueued()
	if got, want := r.counts.snapshot()["gitlab/Note Hook/ignored"], 6; got != want {
		t.Fatalf("counted %d ignored Note Hooks, want %d: %v", got, want, r.counts.snapshot())
	}
}

func TestGitLabPipelineStates(t *testing.T) {
	t.Parallel()
	want := map[string]train.PipelineState{
		"created": train.PipelinePending, "waiting_for_resource": train.PipelinePending,
		"preparing": train.PipelinePending, "pending": train.PipelinePending,
		"scheduled": train.PipelinePending, "manual": train.PipelinePending,
		"running": train.PipelineRunning, "success": train.PipelineSuccess,
		"failed": train.PipelineFailed, "canceled": train.PipelineCanceled,
		"canceling": train.PipelineCanceled, "skipped": train.PipelineSkipped,
	}
	for in, w := range want {
		if got, ok := gitlabPipelineState(in); !ok || got != w {
			t.Errorf("gitlab status %q: %q %v, want %q", in, got, ok, w)
		}
	}
	if got, ok := gitlabPipelineState("Success"); ok {
		t.Errorf("gitlab status Success: %q, want not mapped", got)
	}
}

// Only the variables Trainyard gives a car's pipeline are kept from a
// pipeline's webhook (the fixtures carry another, which is dropped).
func TestCarVarsKeepsTrainyardsOwn(t *testing.T) {
	t.Parallel()
	got := carVars([]gitlab.PipelineEventObjectAttributesVariable{
		{Key: "NESTOR_PROD_ENVIRONMENT", Value: "us-west-1"},
		{Key: "TRAINYARD", Value: "true"},
		{Key: "TRAINYARD_MRS", Value: "3,12"},
		{Key: "TRAINYARD_TARGET_BRANCH", Value: "main"},
		{Key: "trainyard", Value: "false"},
	})
	if want := (event.CarVars{Train: "true", Target: "main", MRs: "3,12"}); got != want {
		t.Fatalf("carVars = %+v, want %+v", got, want)
	}
}
