package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/api/apitest"
)

const (
	ciToken      = "ci-token-of-a-good-length"
	grafanaToken = "grafana-token-of-a-good-length"
)

// Named tokens: a read token reads and is refused writes, a write token
// acts under its own name, and the history records it.
func TestNamedTokensWithRoles(t *testing.T) {
	e := apitest.New(t, apitest.Options{ProtectReads: true, Tokens: []api.Token{
		{Name: "ci", Write: true, Value: ciToken},
		{Name: "grafana", Value: grafanaToken},
	}})
	one, two := e.MR(1, false), e.MR(2, false)
	addPath := func(mr int64) string { return fmt.Sprintf("%s%d/add", mrPath, mr) }

	call(t, e, "GET", trainPath, grafanaToken, "").want(t, 404, `{"error":"train main of group/app on gitlab not found"}`)
	call(t, e, "POST", addPath(one), grafanaToken, `{}`).wantError(t, 403, "token grafana may only read")
	if tr, err := e.Engine.Train(e.Ctx, e.Key); err == nil && len(tr.Cars) != 0 {
		t.Fatalf("a refused add changed the train: %+v", tr.Cars)
	}

	// No user named: the token's name stands in, and is recorded.
	if r := call(t, e, "POST", addPath(one), ciToken, `{}`); r.status != 200 {
		t.Fatalf("add with the ci token: %d %s", r.status, r.body)
	}
	// A user named: the user, and the token they came through.
	if r := call(t, e, "POST", addPath(two), ciToken, `{"user":"alice"}`); r.status != 200 {
		t.Fatalf("add for alice: %d %s", r.status, r.body)
	}
	tr, err := e.Engine.Train(e.Ctx, e.Key)
	if err != nil || len(tr.Cars) != 2 {
		t.Fatalf("train %+v, %v", tr, err)
	}
	if c := tr.Cars[0]; c.AddedBy != "ci" || c.AddedVia != "ci" {
		t.Fatalf("car 1 added by %q via %q, want ci via ci", c.AddedBy, c.AddedVia)
	}
	if c := tr.Cars[1]; c.AddedBy != "alice" || c.AddedVia != "ci" {
		t.Fatalf("car 2 added by %q via %q, want alice via ci", c.AddedBy, c.AddedVia)
	}
	r := call(t, e, "GET", trainPath, grafanaToken, "")
	if r.status != 200 || !strings.Contains(string(r.body), `"added_by":"alice","added_via":"ci"`) {
		t.Fatalf("the train does not show the token: %s", r.body)
	}

	if r := call(t, e, "POST", fmt.Sprintf("%s%d/remove", mrPath, two), ciToken, `{"user":"alice"}`); r.status != 200 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	if r := call(t, e, "POST", fmt.Sprintf("%s%d/remove", mrPath, one), ciToken, `{}`); r.status != 200 {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	r = call(t, e, "GET", trainPath+"/history", grafanaToken, "")
	var hist struct {
		Entries []struct {
			MR       int64  `json:"mr"`
			AddedBy  string `json:"added_by"`
			AddedVia string `json:"added_via"`
			Reason   string `json:"reason"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(r.body, &hist); err != nil || len(hist.Entries) != 2 {
		t.Fatalf("history %s (%v)", r.body, err)
	}
	want := map[int64][3]string{
		one: {"ci", "ci", "Removed from the merge train for `main`: it was removed from the train with API token `ci`."},
		two: {"alice", "ci", "Removed from the merge train for `main`: it was removed from the train by @alice with API token `ci`."},
	}
	for _, h := range hist.Entries {
		if w := want[h.MR]; h.AddedBy != w[0] || h.AddedVia != w[1] || h.Reason != w[2] {
			t.Errorf("history of !%d: by %q via %q, %q; want %q", h.MR, h.AddedBy, h.AddedVia, h.Reason, w)
		}
	}
	// The eviction note names the token, and mentions only the user.
	if notes := e.Notes(one); !strings.Contains(notes, "with API token `ci`") || strings.Contains(notes, "@ci") {
		t.Errorf("notes of !1 do not name the token without a mention:\n%s", notes)
	}
}

func TestAMatchNamesTheToken(t *testing.T) {
	tokens := []api.Token{{Name: "a", Value: "same-prefix-1"}, {Name: "b", Write: true, Value: "same-prefix-2"}}
	if got, ok := api.Match(tokens, "same-prefix-2"); !ok || got.Name != "b" || !got.Write {
		t.Fatalf("Match = %+v, %v; want b", got, ok)
	}
	if _, ok := api.Match(tokens, "same-prefix-"); ok {
		t.Fatal("a prefix matched")
	}
}
