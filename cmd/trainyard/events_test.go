package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/trainyard/trainyard/internal/api/apitest"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/pkg/api"
)

func TestEventsDeadCommands(t *testing.T) {
	t.Setenv("NO_COLOR", "") // set: no colour even on a terminal
	e := apitest.New(t, apitest.Options{})
	wantOutput(t, mustRun(t, e, "events", "dead"), "No dead letters.\n")

	data, err := event.Event{ID: "d-1", Forge: "gitlab", Project: "group/app", Kind: event.KindComment,
		User: event.User{ID: 7, Username: "alice"}, MR: 12, CommentID: 99, Body: "/train add"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	reason := "dispatch: comment !12 of group/app: gitlab: POST /projects/group%2Fapp/merge_requests/12/notes:\n" +
		"502 Bad Gateway after 5 attempts"
	comment, commentEntry := e.Bury(data, reason, 5)
	commentAt := localTime(e.Clock.Now())
	e.Clock.Advance(time.Minute)
	junk, junkEntry := e.Bury([]byte("\x00garbage"), "decode event: invalid character", 1)
	junkAt := localTime(e.Clock.Now())

	idWidth := max(len(comment), len(junk))
	table := fmt.Sprintf(""+
		"%-*s  FAILED AT            DELIVERIES  FORGE   PROJECT    KIND     MR   REASON\n"+
		"%-*s  %s  1           -       -          -        -    decode event: invalid character\n"+
		"%-*s  %s  5           gitlab  group/app  comment  !12  %s\n",
		idWidth, "ID", idWidth, junk, junkAt, idWidth, comment, commentAt,
		"dispatch: comment !12 of group/app: gitlab: POST /projects/group%2Fapp/merge_re…")
	wantOutput(t, mustRun(t, e, "events", "dead"), table)
	wantOutput(t, mustRun(t, e, "events", "dead", "list"), table)
	wantOutput(t, mustRun(t, e, "events", "dead", "list", "--limit", "1"), fmt.Sprintf(""+
		"ID%*s  FAILED AT            DELIVERIES  FORGE  PROJECT  KIND  MR  REASON\n"+
		"%s  %s  1           -      -        -     -   decode event: invalid character\n",
		len(junk)-2, "", junk, junkAt))

	wantOutput(t, mustRun(t, e, "events", "dead", "show", comment), ""+
		"Dead letter "+comment+"\n"+
		"Entry:      "+commentEntry+"\n"+
		"Failed at:  "+commentAt+"\n"+
		"Deliveries: 5\n"+
		"Delivery:   d-1\n"+
		"Forge:      gitlab\n"+
		"Project:    group/app\n"+
		"Kind:       comment\n"+
		"MR:         !12\n"+
		"Reason:     "+reason+"\n"+
		"Event:\n"+
		"{\n"+
		`  "id": "d-1",`+"\n"+
		`  "forge": "gitlab",`+"\n"+
		`  "project": "group/app",`+"\n"+
		`  "kind": "comment",`+"\n"+
		`  "user": {`+"\n"+
		`    "id": 7,`+"\n"+
		`    "username": "alice"`+"\n"+
		"  },\n"+
		`  "mr": 12,`+"\n"+
		`  "comment_id": 99,`+"\n"+
		`  "body": "/train add"`+"\n"+
		"}\n")
	wantOutput(t, mustRun(t, e, "events", "dead", "show", junk), ""+
		"Dead letter "+junk+"\n"+
		"Entry:      "+junkEntry+"\n"+
		"Failed at:  "+junkAt+"\n"+
		"Deliveries: 1\n"+
		"Delivery:   -\n"+
		"Forge:      -\n"+
		"Project:    -\n"+
		"Kind:       -\n"+
		"MR:         -\n"+
		"Reason:     decode event: invalid character\n"+
		`Data:       "\x00garbage" (not JSON)`+"\n")

	var shown api.DeadLetter
	if err := json.Unmarshal([]byte(mustRun(t, e, "events", "dead", "show", comment, "-o", "json")), &shown); err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer // -o json indents the event too
	if err := json.Compact(&compact, shown.Event); err != nil {
		t.Fatal(err)
	}
	shown.Event = compact.Bytes()
	want := api.DeadLetter{ID: comment, Entry: commentEntry, Reason: reason, Deliveries: 5,
		FailedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Delivery: "d-1", Forge: "gitlab",
		Project: "group/app", Kind: "comment", MR: 12, Event: json.RawMessage(data)}
	if !reflect.DeepEqual(shown, want) {
		t.Fatalf("show -o json:\n%+v\nwant\n%+v", shown, want)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(mustRun(t, e, "events", "dead", "-o", "yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	dls, _ := doc["dead_letters"].([]any)
	if len(dls) != 2 || dls[0].(map[string]any)["data"] != "\x00garbage" ||
		dls[1].(map[string]any)["event"].(map[string]any)["body"] != "/train add" {
		t.Fatalf("dead -o yaml: %v", doc)
	}

	out := mustRun(t, e, "events", "dead", "requeue", comment)
	evs, err := e.Store.ReadEvents(e.Ctx, apitest.EventGroup, "worker", 10, 0)
	if err != nil || len(evs) != 1 || string(evs[0].Data) != string(data) {
		t.Fatalf("events after requeue = %+v, %v; want the comment", evs, err)
	}
	wantOutput(t, out, "Requeued dead letter "+comment+" as event "+evs[0].ID+".\n")
	var rq api.Requeued
	if err := json.Unmarshal([]byte(mustRun(t, e, "events", "dead", "requeue", junk, "-o", "json")), &rq); err != nil {
		t.Fatal(err)
	}
	if rq.ID != junk || rq.Entry == "" {
		t.Fatalf("requeue -o json: %+v", rq)
	}
	wantOutput(t, mustRun(t, e, "events", "dead"), "No dead letters.\n")

	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			args []string
			want string
		}{
			{[]string{"events", "dead", "requeue", comment, "--server", e.URL, "--token", apitest.Token}, "dead letter " + comment + " not found (HTTP 404)"},
			{[]string{"events", "dead", "show", "latest", "--server", e.URL, "--token", apitest.Token}, `dead letter "latest" not found (HTTP 404)`},
			{[]string{"events", "dead", "--server", e.URL}, "missing bearer token (Authorization: Bearer <token>) (HTTP 401)"},
			{[]string{"events", "dead", "list", "--server", e.URL, "--token", "wrong"}, "invalid token (HTTP 401)"},
			{[]string{"events", "dead", "--limit", "0", "--server", e.URL}, "--limit 0: want a number from 1 to 1000"},
			{[]string{"events", "dead", "--limit", "1001", "--server", e.URL, "--token", apitest.Token}, "--limit 1001: want a number from 1 to 1000"},
			{[]string{"events", "dead", "-o", "xml", "--server", e.URL}, `-o "xml": want table, json or yaml`},
			{[]string{"events", "dead", "show"}, "missing ID: usage is trainyard events dead show ID"},
			{[]string{"events", "dead", "nope"}, `unknown command "nope" for "trainyard events dead" (see 'trainyard events dead --help')`},
		}
		for _, c := range cases {
			out, err := runCLI(t, e, c.args...)
			if err == nil || err.Error() != c.want {
				t.Errorf("trainyard %v: error %v, want %q", c.args, err, c.want)
			}
			if out != "" {
				t.Errorf("trainyard %v printed %q on failing", c.args, out)
			}
		}
	})
}

func TestEventsDeadReadsTheEnvironment(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	id, _ := e.Bury([]byte("x"), "decode event: invalid character", 1)
	t.Setenv("TRAINYARD_SERVER", e.URL)
	t.Setenv("TRAINYARD_TOKEN", apitest.Token)
	out, err := runCLI(t, e, "events", "dead", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list api.DeadLetterList
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.DeadLetters) != 1 || list.DeadLetters[0].ID != id {
		t.Fatalf("dead -o json: %q (%v)", out, err)
	}
	// The flag beats the environment.
	if _, err := runCLI(t, e, "events", "dead", "show", id, "--token", "wrong"); err == nil || err.Error() != "invalid token (HTTP 401)" {
		t.Fatalf("--token over TRAINYARD_TOKEN: %v", err)
	}
}

func TestEventsOneLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 80, "short"},
		{"two\nlines\tand\x1b[31m  spaces ", 80, "two lines and [31m spaces"},
		{"ééééé", 5, "ééééé"},
		{"éééééé", 5, "éééé…"},
	} {
		if got := oneLine(c.in, c.n); got != c.want {
			t.Errorf("oneLine(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
