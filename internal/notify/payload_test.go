package notify

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/train"
)

const gl = "https://gitlab.example.com/group/my_app/-/"

// TestPayloads posts each kind of event through a real Notifier to a
// local receiver and checks the exact JSON each chat gets.
func TestPayloads(t *testing.T) {
	tests := []struct {
		name  string
		kind  Kind
		event train.Notify
		want  map[string]any
	}{
		{"slack merged", KindSlack, mergedEvent(), map[string]any{"username": "Trainyard", "icon_url": "https://example.com/icon.png", "text": "" +
			"Merged into `main` in group/my_app as <" + gl + "commit/" + sha + "|0123456789ab>, tested by <" + gl + "pipelines/77|pipeline #77>:\n" +
			"• <" + gl + "merge_requests/12|!12> Fix the &lt;parser&gt; &amp; lexer — 42m on the train\n" +
			"• <" + gl + "merge_requests/13|!13> Add *docs* — 1h5m on the train"}},
		{"mattermost merged", KindMattermost, mergedEvent(), map[string]any{"username": "Trainyard", "icon_url": "https://example.com/icon.png", "text": "" +
			"Merged into `main` in group/my\\_app as [0123456789ab](" + gl + "commit/" + sha + "), tested by [pipeline #77](" + gl + "pipelines/77):\n" +
			"• [!12](" + gl + "merge_requests/12) Fix the \\<parser\\> & lexer — 42m on the train\n" +
			"• [!13](" + gl + "merge_requests/13) Add \\*docs\\* — 1h5m on the train"}},
		{"slack evicted", KindSlack, evictedEvent(), map[string]any{"username": "Trainyard", "icon_url": "https://example.com/icon.png", "text": "" +
			"Removed from the merge train for `main` in group/my_app:\n" +
			"• <" + gl + "merge_requests/14|!14> Speed up CI — <" + gl + "pipelines/78|pipeline #78> failed (attempt 2)"}},
		{"mattermost evicted", KindMattermost, evictedEvent(), map[string]any{"username": "Trainyard", "icon_url": "https://example.com/icon.png", "text": "" +
			"Removed from the merge train for `main` in group/my\\_app:\n" +
			"• [!14](" + gl + "merge_requests/14) Speed up CI — [pipeline #78](" + gl + "pipelines/78) failed (attempt 2)"}},
		{"slack paused", KindSlack, pausedEvent(), map[string]any{"username": "Trainyard", "icon_url": "https://example.com/icon.png", "text": "The merge train for `main` in group/my_app was paused by alice_b."}},
		{"mattermost paused", KindMattermost, pausedEvent(), map[string]any{"username": "Trainyard", "icon_url": "https://example.com/icon.png",
			"text": "The merge train for `main` in group/my\\_app was paused by alice\\_b."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t)
			h := start(t, Options{Profiles: profiles, Routes: []Route{{
				Kind: tc.kind, URL: rc.url("/chat"), Username: "Trainyard", IconURL: "https://example.com/icon.png",
			}}})
			h.n.Notify(t.Context(), appKey, tc.event)
			h.n.Close()
			bodies := rc.got("/chat")
			if len(bodies) != 1 {
				t.Fatalf("receiver got %d posts, want 1: %q", len(bodies), bodies)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(bodies[0]), &got); err != nil {
				t.Fatalf("payload is not JSON: %v: %s", err, bodies[0])
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("payload\n got: %q\nwant: %q", got, tc.want)
			}
			if h.c.get(string(tc.kind)+"#0", tc.event.Kind, OutcomeSent) != 1 {
				t.Errorf("counts = %s, want one sent", h.c.all())
			}
		})
	}
}

// TestSlackPayloadBytes: links go out as written, not HTML-escaped, and
// the Slack payload has no field but text when no overrides are set.
func TestSlackPayloadBytes(t *testing.T) {
	rc := newReceiver(t)
	err := Slack{Webhook: Webhook{URL: rc.url("/s")}}.Send(t.Context(), Message{Text: "see <https://x.example/a?b=1&c=2|it>"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := `{"text":"see <https://x.example/a?b=1&c=2|it>"}` + "\n"
	if got := rc.got("/s"); len(got) != 1 || got[0] != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

// TestPayloadOverrides: both chats take the name and avatar the route
// sets, in the same fields.
func TestPayloadOverrides(t *testing.T) {
	rc := newReceiver(t)
	hook := Webhook{URL: rc.url("/o")}
	for _, s := range []Sender{
		Slack{Webhook: hook, Username: "Trainyard", IconURL: "https://x.example/i.png"},
		Mattermost{Webhook: hook, Username: "Trainyard", IconURL: "https://x.example/i.png"},
		Slack{Webhook: hook, IconURL: "https://x.example/i.png"},
	} {
		if err := s.Send(t.Context(), Message{Text: "hi"}); err != nil {
			t.Fatalf("%T Send: %v", s, err)
		}
	}
	want := []string{
		`{"text":"hi","username":"Trainyard","icon_url":"https://x.example/i.png"}` + "\n",
		`{"text":"hi","username":"Trainyard","icon_url":"https://x.example/i.png"}` + "\n",
		`{"text":"hi","icon_url":"https://x.example/i.png"}` + "\n",
	}
	if got := rc.got("/o"); !reflect.DeepEqual(got, want) {
		t.Errorf("bodies = %q, want %q", got, want)
	}
}

func TestMattermostPayloadOmitsUnsetOverrides(t *testing.T) {
	rc := newReceiver(t)
	if err := (Mattermost{Webhook: Webhook{URL: rc.url("/m")}}).Send(t.Context(), Message{Text: "hi"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got, want := strings.Join(rc.got("/m"), ""), `{"text":"hi"}`+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}
