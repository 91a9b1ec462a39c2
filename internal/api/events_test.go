package api_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/api/apitest"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
)

const deadPath = "/api/v1/events/dead"

// buried is a dead letter made by an Env and the JSON the API shows of it.
type buried struct {
	id, entry, json string
	data            []byte
}

// buryEvents buries a comment, a push and data that is not JSON, a minute
// apart, in that order.
func buryEvents(t *testing.T, e *apitest.Env) (comment, push, garbage buried) {
	t.Helper()
	data, err := event.Event{ID: "d-1", Forge: "gitlab", Project: "group/app", Kind: event.KindComment,
		User: event.User{ID: 7, Username: "alice"}, MR: 12, CommentID: 99, Body: "/train add"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	comment.data = data
	comment.id, comment.entry = e.Bury(data, "dispatch: gitlab: 502 Bad Gateway", 5)
	comment.json = fmt.Sprintf(`{"id":%q,"entry":%q,"reason":"dispatch: gitlab: 502 Bad Gateway","deliveries":5,
		"failed_at":"2025-03-01T12:00:00Z","delivery":"d-1","forge":"gitlab","project":"group/app","kind":"comment","mr":12,
		"event":%s}`, comment.id, comment.entry, data)

	e.Clock.Advance(time.Minute)
	data, err = event.Event{ID: "d-2", Forge: "github", Project: "acme/widgets", Kind: event.KindPush,
		Ref: "main", Before: "aaa", After: "bbb"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	push.data = data
	push.id, push.entry = e.Bury(data, "panic: boom", 3)
	push.json = fmt.Sprintf(`{"id":%q,"entry":%q,"reason":"panic: boom","deliveries":3,"failed_at":"2025-03-01T12:01:00Z",
		"delivery":"d-2","forge":"github","project":"acme/widgets","kind":"push","event":%s}`, push.id, push.entry, data)

	// Cut at 4096 bytes, which falls inside a two-byte character.
	e.Clock.Advance(time.Minute)
	garbage.data = []byte("not json:" + strings.Repeat("é", 3000))
	garbage.id, garbage.entry = e.Bury(garbage.data, "decode event: invalid character", 1)
	garbage.json = fmt.Sprintf(`{"id":%q,"entry":%q,"reason":"decode event: invalid character","deliveries":1,
		"failed_at":"2025-03-01T12:02:00Z","data":%q}`, garbage.id, garbage.entry, "not json:"+strings.Repeat("é", 2043)+"…")
	return comment, push, garbage
}

func TestDeadLetters(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	call(t, e, "GET", deadPath, tok, "").want(t, 200, `{"dead_letters":[]}`)
	comment, push, garbage := buryEvents(t, e)

	call(t, e, "GET", deadPath, tok, "").want(t, 200,
		`{"dead_letters":[`+garbage.json+`,`+push.json+`,`+comment.json+`]}`)
	call(t, e, "GET", deadPath+"?limit=2", tok, "").want(t, 200, `{"dead_letters":[`+garbage.json+`,`+push.json+`]}`)
	call(t, e, "GET", deadPath+"/"+comment.id, tok, "").want(t, 200, comment.json)
	call(t, e, "GET", deadPath+"/"+garbage.id, tok, "").want(t, 200, garbage.json)

	t.Run("bad input", func(t *testing.T) {
		for _, limit := range []string{"0", "1001", "ten", "-1"} {
			call(t, e, "GET", deadPath+"?limit="+limit, tok, "").wantError(t, 400,
				fmt.Sprintf("limit: want a number from 1 to 1000, got %q", limit))
		}
		call(t, e, "GET", deadPath+"/1-0", tok, "").wantError(t, 404, "dead letter 1-0 not found")
		call(t, e, "GET", deadPath+"/abc", tok, "").wantError(t, 404, `dead letter "abc" not found`)
		call(t, e, "GET", deadPath+"/-", tok, "").wantError(t, 404, `dead letter - not found`)
		call(t, e, "GET", deadPath+"/%2B%0A", tok, "").wantError(t, 404, `dead letter "+\n" not found`)
		call(t, e, "POST", deadPath+"/abc/requeue", tok, "").wantError(t, 404, `dead letter "abc" not found`)
		r := call(t, e, "GET", deadPath+"/"+comment.id+"/requeue", tok, "")
		r.wantError(t, 405, "method not allowed; use POST")
		if r.header.Get("Allow") != "POST" {
			t.Errorf("Allow = %q, want POST", r.header.Get("Allow"))
		}
		call(t, e, "POST", deadPath, tok, "").wantError(t, 405, "method not allowed; use GET")
	})

	t.Run("requeue", func(t *testing.T) {
		r := call(t, e, "POST", deadPath+"/"+push.id+"/requeue", tok, "")
		var entry string
		if evs, err := e.Store.ReadEvents(e.Ctx, apitest.EventGroup, "worker", 10, 0); err != nil || len(evs) != 1 {
			t.Fatalf("events after requeue = %+v, %v; want the push", evs, err)
		} else {
			entry = evs[0].ID
			if string(evs[0].Data) != string(push.data) || entry == push.entry {
				t.Fatalf("requeued event %s %s; want the push as a new entry", entry, evs[0].Data)
			}
		}
		r.want(t, 200, fmt.Sprintf(`{"id":%q,"entry":%q}`, push.id, entry))
		call(t, e, "GET", deadPath, tok, "").want(t, 200, `{"dead_letters":[`+garbage.json+`,`+comment.json+`]}`)
		call(t, e, "GET", deadPath+"/"+push.id, tok, "").wantError(t, 404, "dead letter "+push.id+" not found")
		call(t, e, "POST", deadPath+"/"+push.id+"/requeue", tok, "").wantError(t, 404, "dead letter "+push.id+" not found")
	})
}

// TestDeadLettersNeedTheToken: dead letters hold comment text, so even
// reading them needs the token, whether reads are protected or not.
func TestDeadLettersNeedTheToken(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	comment, _, _ := buryEvents(t, e)
	noToken := apitest.New(t, apitest.Options{NoToken: true})
	for _, c := range []struct{ method, path string }{
		{"GET", deadPath}, {"GET", deadPath + "/" + comment.id}, {"POST", deadPath + "/" + comment.id + "/requeue"},
	} {
		call(t, e, c.method, c.path, "", "").wantError(t, 401, "missing bearer token (Authorization: Bearer <token>)")
		call(t, e, c.method, c.path, "wrong", "").wantError(t, 401, "invalid token")
		call(t, noToken, c.method, c.path, "anything", "").wantError(t, 403, "API token not configured")
	}
	call(t, e, "GET", deadPath+"/"+comment.id, tok, "").want(t, 200, comment.json)
}

func TestDeadLettersNotServed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(api.New(api.Options{Trains: engine.NewRouter(), Token: tok}))
	t.Cleanup(srv.Close)
	e := &apitest.Env{Ctx: t.Context(), URL: srv.URL}
	for _, c := range []struct{ method, path string }{
		{"GET", deadPath}, {"GET", deadPath + "/1-0"}, {"POST", deadPath + "/1-0/requeue"},
	} {
		call(t, e, c.method, c.path, tok, "").wantError(t, 404, "dead letters not available")
		call(t, e, c.method, c.path, "", "").wantError(t, 401, "missing bearer token (Authorization: Bearer <token>)")
	}
}
