package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/trainyard/trainyard/internal/event"
)

const branchPrefix = "refs/heads/"

func (h *Handler) serveGitLab(w http.ResponseWriter, r *http.Request) (string, answer) {
	token := gitlab.HookEventToken(r)
	if token == "" {
		return eventUnknown, failure(http.StatusUnauthorized, OutcomeUnauthorized, "missing X-Gitlab-Token")
	}
	matched := h.gitlabKeys.match(func(k *key) bool { return secretMatch(token, k.digest) })
	if matched == nil {
		return eventUnknown, failure(http.StatusUnauthorized, OutcomeUnauthorized, "invalid X-Gitlab-Token")
	}
	kind := gitlab.HookEventType(r)
	if !gitlabUsed(kind) {
		return eventOther, ignored("event type " + boundName(string(kind)) + " not used")
	}
	label := string(kind)
	idempotency, eventUUID := r.Header.Get("Idempotency-Key"), r.Header.Get("X-Gitlab-Event-UUID")
	if idempotency == "" && eventUUID == "" {
		return label, failure(http.StatusBadRequest, OutcomeBadRequest,
			"missing delivery id: no Idempotency-Key or X-Gitlab-Event-UUID header")
	}
	buf := h.bodies.get()
	defer h.bodies.put(buf)
	if a, ok := h.readBody(w, r, buf); !ok {
		return label, a
	}
	n, err := decodeGitLab(kind, buf.Bytes())
	switch {
	case err != nil:
		return label, decodeFailure(label, err)
	case n.ignore != "":
		return label, ignored(n.ignore)
	}
	n.ev.Forge = forgeGitLab
	n.ev.ID = gitlabDeliveryID(idempotency, eventUUID, buf.Bytes())
	if a, ok := h.admit(h.gitlabKeys, matched, n.ev, "invalid X-Gitlab-Token"); !ok {
		return label, a
	}
	return label, h.enqueue(r.Context(), n.ev, label)
}

// gitlabDeliveryID names a delivery for de-duplication. Idempotency-Key is
// made for it: one per webhook event, kept when a delivery is retried.
// Older GitLab sends only X-Gitlab-Event-UUID, which every hook fired by one
// request shares (a push that updates two MRs sends three hooks with one
// UUID), so it is narrowed by the payload's digest: a retry, which resends
// the same body, keeps the id, while the sibling hooks get ids of their own.
func gitlabDeliveryID(idempotency, eventUUID string, body []byte) string {
	if idempotency != "" {
		return idempotency
	}
	sum := sha256.Sum256(body)
	return eventUUID + ":" + hex.EncodeToString(sum[:8])
}

// boundName bounds an event name a sender chose, for an answer.
func boundName(kind string) string {
	const maxName = 64
	switch {
	case kind == "":
		return eventUnknown
	case len(kind) > maxName:
		return kind[:maxName]
	}
	return kind
}

func gitlabUsed(kind gitlab.EventType) bool {
	switch kind {
	case gitlab.EventTypeNote, gitlab.EventConfidentialNote, gitlab.EventTypeMergeRequest,
		gitlab.EventTypePipeline, gitlab.EventTypePush:
		return true
	}
	return false
}

func decodeGitLab(kind gitlab.EventType, payload []byte) (normalised, error) {
	if err := jsonObject(payload); err != nil {
		return normalised{}, err
	}
	switch kind {
	case gitlab.EventTypeNote:
		return decodeGitLabNote(payload)
	case gitlab.EventConfidentialNote:
		// An internal note's command would be answered, and its words
		// (a freeze's reason) shown, where everyone can read them.
		return skip("internal note: commands are taken from public comments only"), nil
	}
	parsed, err := gitlab.ParseWebhook(kind, payload)
	if err != nil {
		return normalised{}, err
	}
	switch e := parsed.(type) {
	case *gitlab.MergeEvent:
		return gitlabMR(e), nil
	case *gitlab.PipelineEvent:
		return gitlabPipeline(e), nil
	case *gitlab.PushEvent:
		return gitlabPush(e), nil
	}
	return skip("event type %s not used", kind), nil
}

// decodeGitLabNote decodes a Note Hook into client-go's MergeCommentEvent
// in one pass. gitlab.ParseWebhook decodes every note twice, the first time
// only to learn what it is on: that was a third of the listener's CPU, and
// notes are its busiest event. The noteable type is checked here instead.
func decodeGitLabNote(payload []byte) (normalised, error) {
	var e gitlab.MergeCommentEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return normalised{}, err
	}
	switch {
	case e.ObjectKind != string(gitlab.NoteEventTargetType):
		return skip("note payload of object kind %q", e.ObjectKind), nil
	case e.ObjectAttributes.NoteableType != "MergeRequest":
		return skip("note on %s, not on a merge request", e.ObjectAttributes.NoteableType), nil
	}
	return gitlabNote(&e), nil
}

func gitlabUser(u *gitlab.EventUser) event.User {
	if u == nil {
		return event.User{}
	}
	return event.User{ID: u.ID, Username: u.Username}
}

func gitlabNote(e *gitlab.MergeCommentEvent) normalised {
	a := e.ObjectAttributes
	switch {
	case a.System:
		return skip("system note")
	case a.Action != "" && a.Action != gitlab.CommentEventActionCreate:
		return skip("note action %s not used", a.Action) // an edited command is not run again
	}
	return use(event.Event{
		Kind:      event.KindComment,
		Project:   e.Project.PathWithNamespace,
		User:      gitlabUser(e.User),
		MR:        e.MergeRequest.IID,
		CommentID: a.ID,
		Body:      a.Note,
	})
}

func gitlabMR(e *gitlab.MergeEvent) normalised {
	a := e.ObjectAttributes
	ev := event.Event{
		Kind:         event.KindMR,
		Project:      e.Project.PathWithNamespace,
		User:         gitlabUser(e.User),
		MR:           a.IID,
		HeadSHA:      a.LastCommit.ID,
		TargetBranch: a.TargetBranch,
	}
	switch a.Action {
	case "open":
		ev.Action = event.ActionOpen
	case "close":
		ev.Action = event.ActionClose
	case "reopen":
		ev.Action = event.ActionReopen
	case "merge":
		ev.Action = event.ActionMerge
	case "update":
		// An update carries new commits (oldrev is set), a new target branch,
		// or other edits; HeadSHA lets the workers tell new commits apart.
		ev.Action = event.ActionUpdate
		if c := e.Changes.TargetBranch; c.Previous != "" && c.Previous != c.Current {
			ev.Action, ev.OldTargetBranch, ev.TargetBranch = event.ActionRetarget, c.Previous, c.Current
		}
	default:
		return skip("merge request action %q not used", a.Action)
	}
	return use(ev)
}

func gitlabPipeline(e *gitlab.PipelineEvent) normalised {
	a := e.ObjectAttributes
	status, ok := gitlabPipelineState(a.Status)
	if !ok {
		return skip("pipeline status %q not used", a.Status)
	}
	return use(event.Event{
		Kind:     event.KindPipeline,
		Project:  e.Project.PathWithNamespace,
		User:     gitlabUser(e.User),
		MR:       e.MergeRequest.IID,
		Pipeline: a.ID,
		SHA:      a.SHA,
		Ref:      a.Ref,
		Status:   status,
		Source:   a.Source,
		Tag:      a.Tag,
		Parent:   e.SourcePipeline.PipelineID,
		CarVars:  carVars(a.Variables),
	})
}

// carVars keeps the variables Trainyard gives a car's pipeline, and
// only those: a pipeline's variables are anyone's to set.
func carVars(vars []gitlab.PipelineEventObjectAttributesVariable) event.CarVars {
	var out event.CarVars
	for _, v := range vars {
		switch v.Key {
		case event.VarTrain:
			out.Train = v.Value
		case event.VarTarget:
			out.Target = v.Value
		case event.VarMRs:
			out.MRs = v.Value
		}
	}
	return out
}

func gitlabPush(e *gitlab.PushEvent) normalised {
	branch, ok := strings.CutPrefix(e.Ref, branchPrefix)
	if !ok {
		return skip("push to %s is not to a branch", e.Ref)
	}
	return use(event.Event{
		Kind:    event.KindPush,
		Project: e.Project.PathWithNamespace,
		User:    event.User{ID: e.UserID, Username: e.UserUsername},
		Ref:     branch,
		Before:  e.Before,
		After:   e.After,
	})
}
