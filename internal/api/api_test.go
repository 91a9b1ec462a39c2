package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/api/apitest"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/server"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

const (
	trainPath = "/api/v1/trains/gitlab/group%2Fapp/main"
	mrPath    = "/api/v1/merge_requests/gitlab/group%2Fapp/"
	tok       = apitest.Token
)

// carJSON is the JSON of a running car at position pos whose details come
// from the engine's train.
func carJSON(e *apitest.Env, c train.Car, pos int, extra string) string {
	return fmt.Sprintf(`{"position":%d,"mr":%d,"label":"!%d","title":%q,"mr_url":"%s/group/app/-/merge_requests/%d",
		"state":%q,%s"added_at":%q,"time_on_train_seconds":%[10]d,"time_on_train":%[10]d,"pipeline":%[11]d,
		"pipeline_url":"%[5]s/group/app/-/pipelines/%[11]d","pipeline_label":"pipeline #%[11]d","commit":%[12]q,"attempts":%[13]d%[14]s}`,
		pos, c.MR, c.MR, c.Title, e.Forge.URL(), c.MR, c.State, byJSON(c), c.AddedAt.UTC().Format(time.RFC3339),
		int(e.Clock.Now().Sub(c.AddedAt)/time.Second), c.Pipeline, c.Commit, c.Attempts, extra)
}

func engineTrain(t *testing.T, e *apitest.Env) train.Train {
	t.Helper()
	tr, err := e.Engine.Train(e.Ctx, e.Key)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTrainLifecycle(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	one, draft := e.MR(1, false), e.MR(2, true)

	call(t, e, "GET", "/api/v1/trains", "", "").want(t, 200, `{"trains":[]}`)
	call(t, e, "GET", trainPath, "", "").wantError(t, 404, "train main of group/app on gitlab not found")

	add := mrPath + fmt.Sprint(one) + "/add"
	r := call(t, e, "POST", add, "", "")
	r.wantError(t, 401, "missing bearer token (Authorization: Bearer <token>)")
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="trainyard"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	call(t, e, "POST", add, "wrong", "").wantError(t, 401, "invalid token")
	if tr := engineTrain(t, e); len(tr.Cars) != 0 {
		t.Fatalf("a refused call changed the train: %+v", tr.Cars)
	}

	// The add reads the target's head, so the car is built and its
	// pipeline started at once.
	added := call(t, e, "POST", add, tok, `{"user":"alice"}`)
	built := engineTrain(t, e).Cars[0]
	added.want(t, 200, fmt.Sprintf(`{"forge":"gitlab","project":"group/app","mr":1,"label":"!1","branch":"main",
		"car":{"position":1,"mr":1,"label":"!1","title":"Change 1","mr_url":"%[1]s/group/app/-/merge_requests/1","state":"running",
		"added_by":"alice","added_via":"api","added_at":"2025-03-01T12:00:00Z","time_on_train_seconds":0,"time_on_train":0,"pipeline":%[2]d,
		"pipeline_url":"%[1]s/group/app/-/pipelines/%[2]d","pipeline_label":"pipeline #%[2]d","commit":"%[3]s","attempts":1}}`, e.Forge.URL(), built.Pipeline, built.Commit))
	e.Sweep()
	tr := engineTrain(t, e)
	if len(tr.Cars) != 1 || tr.Cars[0].State != train.StateRunning || tr.Cars[0].AddedBy != "alice" {
		t.Fatalf("after add: %+v", tr.Cars)
	}
	car := tr.Cars[0]

	e.Clock.Advance(90 * time.Second)
	call(t, e, "GET", trainPath, "", "").want(t, 200, fmt.Sprintf(
		`{"forge":"gitlab","project":"group/app","branch":"main","paused":false,"draining":false,"target_head":%q,
		"max_parallel":20,"cars":[%s],"version":%d}`, tr.TargetHead, carJSON(e, car, 1, ""), tr.Version))
	call(t, e, "GET", "/api/v1/trains", "", "").want(t, 200,
		`{"trains":[{"forge":"gitlab","project":"group/app","branch":"main","paused":false,"draining":false,"cars":1,"running":1}]}`)
	call(t, e, "GET", "/api/v1/trains?forge=github", "", "").want(t, 200, `{"trains":[]}`)

	t.Run("refused", func(t *testing.T) {
		call(t, e, "POST", mrPath+fmt.Sprint(draft)+"/add", tok, "").wantError(t, 409,
			"merge request !2 of group/app refused: This merge request is a draft; mark it as ready before adding it to the merge train.")
		if n := e.Notes(draft); !strings.Contains(n, "This merge request is a draft") {
			t.Fatalf("no refusal note on the MR: %q", n)
		}
	})
	t.Run("not found", func(t *testing.T) {
		call(t, e, "POST", mrPath+"999/add", tok, "").wantError(t, 404, "merge request !999 of group/app not found")
		call(t, e, "POST", "/api/v1/merge_requests/gitlab/nope%2Fnothing/1/retry", tok, "").
			wantError(t, 404, "merge request !1 of nope/nothing not found")
		call(t, e, "POST", "/api/v1/merge_requests/github/group%2Fapp/1/add", tok, "").
			wantError(t, 404, `forge "github": forge not configured`)
		call(t, e, "POST", "/api/v1/trains/gitlab/group%2Fapp/develop/pause", tok, "").
			wantError(t, 404, "train develop of group/app on gitlab not found")
		// Removing from a branch that has no train makes none.
		call(t, e, "POST", mrPath+fmt.Sprint(one)+"/remove", tok, `{"branch":"nope"}`).
			wantError(t, 404, "merge request !1 of group/app not found")
		call(t, e, "GET", "/api/v1/trains/gitlab/group%2Fapp/nope", "", "").wantError(t, 404, "train nope of group/app on gitlab not found")
		call(t, e, "GET", "/api/v1/trains/gitlab/group/app/main", "", "").wantError(t, 404,
			"no such route: GET /api/v1/trains/gitlab/group/app/main; project paths and branch names are one path segment each, escaped like group%2Fapp")
	})
	t.Run("bad input", func(t *testing.T) {
		call(t, e, "POST", mrPath+"abc/add", tok, "").wantError(t, 400, `mr: want a merge request number, got "abc"`)
		call(t, e, "POST", mrPath+"0/add", tok, "").wantError(t, 400, `mr: want a merge request number, got "0"`)
		call(t, e, "POST", add, tok, `{"priority":"asap"}`).wantError(t, 400, `priority: want normal, high or urgent, got "asap"`)
		call(t, e, "POST", add, tok, `{"method":"octopus"}`).wantError(t, 400, `method: want merge, squash or rebase, got "octopus"`)
		call(t, e, "POST", add, tok, `{"user":"a b"}`).wantError(t, 400, `user: want a username of letters, digits, '.', '_' and '-', got "a b"`)
		call(t, e, "POST", add, tok, `{"usr":"alice"}`).wantError(t, 400, `body: json: unknown field "usr"`)
		call(t, e, "POST", add, tok, `{} {}`).wantError(t, 400, "body: want one JSON object")
		call(t, e, "POST", add, tok, `{"user":"`+strings.Repeat("a", 70<<10)+`"}`).wantError(t, 413, "body: larger than 65536 bytes")
		call(t, e, "GET", "/api/v1/trains/GitLab/group%2Fapp/main", "", "").wantError(t, 400, `forge: want a forge name such as gitlab, got "GitLab"`)
		call(t, e, "POST", mrPath+fmt.Sprint(one)+"/remove", tok, `{"branch":"a\tb"}`).wantError(t, 400, `branch: want a branch name, got "a\tb"`)
		call(t, e, "GET", "/api/v1/trains/gitlab/group%2F%2Fapp/main", "", "").wantError(t, 400, `project: want a project path such as group%2Fapp, got "group//app"`)
		call(t, e, "GET", trainPath+"/history?limit=0", "", "").wantError(t, 400, `limit: want a number from 1 to 500, got "0"`)
	})
	t.Run("method not allowed", func(t *testing.T) {
		r := call(t, e, "GET", add, tok, "")
		r.wantError(t, 405, "method not allowed; use POST")
		if r.header.Get("Allow") != "POST" {
			t.Errorf("Allow = %q, want POST", r.header.Get("Allow"))
		}
		call(t, e, "DELETE", "/api/v1/trains", tok, "").wantError(t, 405, "method not allowed; use GET")
	})

	t.Run("pause and resume", func(t *testing.T) {
		r := call(t, e, "POST", trainPath+"/pause", tok, `{"user":"ops"}`)
		tr := engineTrain(t, e)
		if !tr.Paused {
			t.Fatal("the train is not paused after pause")
		}
		r.want(t, 200, fmt.Sprintf(`{"forge":"gitlab","project":"group/app","branch":"main","paused":true,"draining":false,"target_head":%q,
			"max_parallel":20,"cars":[%s],"version":%d}`, tr.TargetHead, carJSON(e, tr.Cars[0], 1, ""), tr.Version))
		call(t, e, "POST", trainPath+"/resume", tok, "")
		if engineTrain(t, e).Paused {
			t.Fatal("the train is paused after resume")
		}
	})

	t.Run("remove and history", func(t *testing.T) {
		call(t, e, "GET", trainPath+"/history", "", "").want(t, 200,
			`{"forge":"gitlab","project":"group/app","branch":"main","entries":[]}`)
		call(t, e, "POST", mrPath+fmt.Sprint(one)+"/remove", tok, `{"user":"bob"}`).want(t, 200,
			`{"forge":"gitlab","project":"group/app","mr":1,"label":"!1"}`)
		if tr := engineTrain(t, e); len(tr.Cars) != 0 {
			t.Fatalf("cars left after remove: %+v", tr.Cars)
		}
		hist, err := e.Engine.History(e.Ctx, e.Key, 10)
		if err != nil || len(hist) != 1 || hist[0].Reason == nil {
			t.Fatalf("engine history %+v, %v", hist, err)
		}
		h := hist[0]
		call(t, e, "GET", trainPath+"/history?limit=5", "", "").want(t, 200, fmt.Sprintf(
			`{"forge":"gitlab","project":"group/app","branch":"main","entries":[{"mr":1,"label":"!1","title":"Change 1",
			"mr_url":"%s/group/app/-/merge_requests/1","state":"evicted","reason":%q,"reason_code":"removed",
			"commit":%q,"pipeline":%d,"pipeline_url":"%s/group/app/-/pipelines/%d","pipeline_label":"pipeline #%d","added_by":"alice","added_via":"api",
			"added_at":"2025-03-01T12:00:00Z","left_at":"2025-03-01T12:01:30Z"}]}`,
			e.Forge.URL(), h.Reason.Message.String(), car.Commit, car.Pipeline, e.Forge.URL(), car.Pipeline, car.Pipeline))
		if !strings.HasPrefix(h.Reason.Message.String(), "Removed from the merge train for `main`: ") || !strings.Contains(h.Reason.Message.String(), "bob") {
			t.Errorf("the reason %q does not name who removed the MR", h.Reason.Message)
		}
	})
}

// Project paths are looked up without regard to case, as the forges and
// the configuration do: one project has one train whatever the spelling.
func TestProjectPathsIgnoreCase(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	one := e.MR(1, false)
	loud := strings.Replace(mrPath, "group%2Fapp", "GROUP%2FApp", 1) + fmt.Sprint(one) + "/add"
	r := call(t, e, "POST", loud, tok, `{"user":"alice"}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"project":"group/app"`) {
		t.Fatalf("add through GROUP%%2FApp: %d %s, want the train's spelling of the project", r.status, r.body)
	}
	if tr := engineTrain(t, e); len(tr.Cars) != 1 || tr.Project != "group/app" {
		t.Fatalf("train %s has %d cars, want the MR on group/app's train", tr.Key, len(tr.Cars))
	}
	got := call(t, e, "GET", strings.Replace(trainPath, "group%2Fapp", "GROUP%2FAPP", 1), "", "")
	if got.status != 200 || !strings.Contains(string(got.body), `"project":"group/app"`) || !strings.Contains(string(got.body), `"mr":1`) {
		t.Fatalf("GET GROUP%%2FAPP: %d %s", got.status, got.body)
	}
}

// Whatever the case a caller writes a project in, the answers name it
// and link it as the configuration does, and the list's filters match it.
func TestAnswersSpellProjectsAsConfigured(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	one, two := e.MR(1, false), e.MR(2, false)
	loudMR := strings.Replace(mrPath, "group%2Fapp", "GROUP%2FApp", 1)
	loudTrain := strings.Replace(trainPath, "group%2Fapp", "GROUP%2FApp", 1)
	if r := call(t, e, "POST", loudMR+fmt.Sprint(one)+"/add", tok, ""); r.status != 200 {
		t.Fatalf("add !%d: %d %s", one, r.status, r.body)
	}
	e.Pass()

	for _, q := range []string{"project=GROUP/APP", "project=group/app", "forge=GITLAB", "forge=gitlab&project=Group/App"} {
		call(t, e, "GET", "/api/v1/trains?"+q, "", "").want(t, 200,
			`{"trains":[{"forge":"gitlab","project":"group/app","branch":"main","paused":false,"draining":false,"cars":0,"running":0}]}`)
	}
	call(t, e, "GET", "/api/v1/trains?project=group/other", "", "").want(t, 200, `{"trains":[]}`)

	if r := call(t, e, "POST", loudMR+fmt.Sprint(two)+"/add", tok, ""); r.status != 200 {
		t.Fatalf("add !%d: %d %s", two, r.status, r.body)
	}
	call(t, e, "POST", loudMR+fmt.Sprint(two)+"/remove", tok, "").want(t, 200,
		fmt.Sprintf(`{"forge":"gitlab","project":"group/app","mr":%d,"label":"!%d"}`, two, two))

	r := call(t, e, "GET", loudTrain+"/history", "", "")
	var h struct {
		Project string `json:"project"`
		Entries []struct {
			MR          int64  `json:"mr"`
			MRURL       string `json:"mr_url"`
			PipelineURL string `json:"pipeline_url"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(r.body, &h); err != nil || r.status != 200 {
		t.Fatalf("history: %d %s (%v)", r.status, r.body, err)
	}
	if h.Project != "group/app" || len(h.Entries) != 2 {
		t.Fatalf("history through GROUP%%2FApp: %s", r.body)
	}
	base := e.Forge.URL() + "/group/app/-/"
	// Newest first: the removed MR, then the merged one; each had a
	// pipeline.
	for i, mr := range []int64{two, one} {
		got := h.Entries[i]
		if got.MR != mr || got.MRURL != base+fmt.Sprintf("merge_requests/%d", mr) || !strings.HasPrefix(got.PipelineURL, base+"pipelines/") {
			t.Errorf("history entry %d: %+v, want !%d's with links under %s", i, got, mr, base)
		}
	}
}

func TestNoTokenRefusesEveryChange(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{NoToken: true})
	mr := e.MR(1, false)
	for _, path := range []string{mrPath + fmt.Sprint(mr) + "/add", trainPath + "/pause", trainPath + "/freeze", trainPath + "/drain"} {
		call(t, e, "POST", path, "", "").wantError(t, 403, "API token not configured")
		call(t, e, "POST", path, "anything", "").wantError(t, 403, "API token not configured")
	}
	call(t, e, "GET", "/api/v1/trains", "", "").want(t, 200, `{"trains":[]}`)
	if tr := engineTrain(t, e); tr.Version != 0 {
		t.Fatalf("a refused call created the train: %+v", tr)
	}
}

func TestProtectedReads(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{ProtectReads: true})
	for _, path := range []string{"/api/v1/trains", trainPath, trainPath + "/history"} {
		call(t, e, "GET", path, "", "").wantError(t, 401, "missing bearer token (Authorization: Bearer <token>)")
		call(t, e, "GET", path, "nope", "").wantError(t, 401, "invalid token")
	}
	call(t, e, "GET", "/api/v1/trains", tok, "").want(t, 200, `{"trains":[]}`)
	call(t, e, "GET", trainPath+"/history", tok, "").want(t, 200, `{"forge":"gitlab","project":"group/app","branch":"main","entries":[]}`)
}

// TestEstimates checks the estimate from a merged car's pipeline time: with
// one car tested at a time, the second car waits a window more.
func TestEstimates(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Settings: train.Settings{MaxParallel: 1}})
	first := e.MR(1, false)
	call(t, e, "POST", mrPath+fmt.Sprint(first)+"/add", tok, "")
	e.Sweep()
	e.Clock.Advance(10 * time.Minute)
	e.Pass()

	merged := engineTrain(t, e)
	if len(merged.Cars) != 0 {
		t.Fatalf("cars left after the merge: %+v", merged.Cars)
	}
	h, err := e.Engine.History(e.Ctx, e.Key, 1)
	if err != nil || len(h) != 1 || h[0].Reason == nil {
		t.Fatalf("history %+v, %v", h, err)
	}
	call(t, e, "GET", trainPath+"/history", "", "").want(t, 200, fmt.Sprintf(
		`{"forge":"gitlab","project":"group/app","branch":"main","entries":[{"mr":1,"label":"!1","title":"Change 1",
		"mr_url":"%[1]s/group/app/-/merge_requests/1","state":"merged",
		"reason":"Merged into `+"`main`"+` with %.12[2]s, tested by pipeline #%[3]d.","reason_code":"merged",
		"commit":%[2]q,"pipeline":%[3]d,"pipeline_url":"%[1]s/group/app/-/pipelines/%[3]d","pipeline_label":"pipeline #%[3]d","added_by":"api","added_via":"api",
		"added_at":"2025-03-01T12:00:00Z","left_at":"2025-03-01T12:10:00Z"}]}`, e.Forge.URL(), h[0].Commit, h[0].Pipeline))

	a, b := e.MR(2, false), e.MR(3, false)
	for _, mr := range []int64{a, b} {
		call(t, e, "POST", mrPath+fmt.Sprint(mr)+"/add", tok, "")
	}
	e.Sweep()
	e.Clock.Advance(4 * time.Minute)
	tr := engineTrain(t, e)
	if len(tr.Cars) != 2 {
		t.Fatalf("cars %+v", tr.Cars)
	}
	// Front car: one window (10m) less the 4m its pipeline has run.
	// Second car: two windows less the same 4m.
	call(t, e, "GET", trainPath, "", "").want(t, 200, fmt.Sprintf(
		`{"forge":"gitlab","project":"group/app","branch":"main","paused":false,"draining":false,"target_head":%q,
		"max_parallel":1,"cars":[%s,%s],"version":%d}`, tr.TargetHead,
		carJSON(e, tr.Cars[0], 1, `,"estimated_merge_seconds":360,"estimated_merge":360`), queuedJSON(e, tr.Cars[1], 2, `,"estimated_merge_seconds":960,"estimated_merge":960`), tr.Version))
}

// byJSON is who added car c, as the API writes it.
func byJSON(c train.Car) string {
	s := fmt.Sprintf(`"added_by":%q,`, c.AddedBy)
	if c.AddedVia != "" {
		s += fmt.Sprintf(`"added_via":%q,`, c.AddedVia)
	}
	return s
}

// queuedJSON is the JSON of a car without a pipeline yet.
func queuedJSON(e *apitest.Env, c train.Car, pos int, extra string) string {
	return fmt.Sprintf(`{"position":%d,"mr":%d,"label":"!%d","title":%q,"mr_url":"%s/group/app/-/merge_requests/%d",
		"state":%q,%s"added_at":%q,"time_on_train_seconds":%[10]d,"time_on_train":%[10]d,"attempts":0%[11]s}`,
		pos, c.MR, c.MR, c.Title, e.Forge.URL(), c.MR, c.State, byJSON(c), c.AddedAt.UTC().Format(time.RFC3339),
		int(e.Clock.Now().Sub(c.AddedAt)/time.Second), extra)
}

// TestFailuresKeepTheirDetailsInTheLog: a store that cannot be reached is
// a 500 whose answer says nothing of it; the log has the details.
func TestFailuresKeepTheirDetailsInTheLog(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.ErrorLevel)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	eng := engine.New(engine.Config{Profile: gitlab.Profile(""), Owner: "test"}, store.New(rdb, store.Options{Prefix: "x"}), nil, nil)
	srv := httptest.NewServer(api.New(api.Options{Trains: engine.NewRouter(eng), Logger: zap.New(core)}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/api/v1/trains")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 || string(body) != `{"error":"internal error"}`+"\n" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	entries := logs.All()
	if len(entries) != 1 || !strings.Contains(fmt.Sprint(entries[0].ContextMap()["error"]), "127.0.0.1:1") {
		t.Fatalf("log: %+v", entries)
	}
}

// Freeze, unfreeze, drain and undrain are guarded and answered as pause
// is: a write token, a body that is checked, 404 for a train that is not
// there, and the train after the change.
func TestFreezeAndDrain(t *testing.T) {
	t.Parallel()
	const reader = "reader-token-for-tests"
	e := apitest.New(t, apitest.Options{Tokens: []api.Token{{Name: "grafana", Value: reader}}})
	one := e.MR(1, false)
	call(t, e, "POST", mrPath+fmt.Sprint(one)+"/add", tok, "")
	e.Sweep()
	before := engineTrain(t, e)

	const xssReason = "<script>alert(1)</script>"
	freeze := trainPath + "/freeze"
	body := `{"user":"ops","reason":"` + xssReason + `"}`
	t.Run("refused without a write token", func(t *testing.T) {
		for _, verb := range []string{"freeze", "unfreeze", "drain", "undrain"} {
			call(t, e, "POST", trainPath+"/"+verb, "", body).wantError(t, 401, "missing bearer token (Authorization: Bearer <token>)")
			call(t, e, "POST", trainPath+"/"+verb, "wrong", body).wantError(t, 401, "invalid token")
			call(t, e, "POST", trainPath+"/"+verb, reader, body).wantError(t, 403, "token grafana may only read")
			call(t, e, "GET", trainPath+"/"+verb, tok, "").wantError(t, 405, "method not allowed; use POST")
		}
		if tr := engineTrain(t, e); tr.Version != before.Version || tr.Frozen != nil || tr.Draining {
			t.Fatalf("a refused call changed the train: version %d, frozen %+v, draining %v", tr.Version, tr.Frozen, tr.Draining)
		}
	})
	t.Run("bad reason", func(t *testing.T) {
		missing := "reason: want why the train is frozen, 1 to 200 characters"
		for _, b := range []string{"", `{}`, `{"user":"ops"}`, `{"reason":""}`, `{"reason":"   "}`} {
			call(t, e, "POST", freeze, tok, b).wantError(t, 400, missing)
		}
		call(t, e, "POST", freeze, tok, `{"reason":"`+strings.Repeat("é", 201)+`"}`).wantError(t, 400, "reason: want at most 200 characters, got 201")
		for _, b := range []string{`{"reason":"a\nb"}`, `{"reason":"a\u001b[31mb"}`, `{"reason":"a\u202eb"}`} {
			call(t, e, "POST", freeze, tok, b).wantError(t, 400, "reason: want text without control or formatting characters")
		}
		call(t, e, "POST", freeze, tok, `{"reason":"x","until":"friday"}`).wantError(t, 400, `body: json: unknown field "until"`)
		call(t, e, "POST", freeze, tok, `{"reason":"x","user":"a b"}`).wantError(t, 400, `user: want a username of letters, digits, '.', '_' and '-', got "a b"`)
		call(t, e, "POST", trainPath+"/drain", tok, `{"reason":"x"}`).wantError(t, 400, `body: json: unknown field "reason"`)
		if tr := engineTrain(t, e); tr.Frozen != nil {
			t.Fatalf("a refused freeze froze the train: %+v", tr.Frozen)
		}
	})
	t.Run("not found", func(t *testing.T) {
		call(t, e, "POST", "/api/v1/trains/gitlab/group%2Fapp/develop/freeze", tok, `{"reason":"release"}`).
			wantError(t, 404, "train develop of group/app on gitlab not found")
		for _, verb := range []string{"unfreeze", "drain", "undrain"} {
			call(t, e, "POST", "/api/v1/trains/gitlab/group%2Fapp/develop/"+verb, tok, "").
				wantError(t, 404, "train develop of group/app on gitlab not found")
		}
	})
	t.Run("freeze and unfreeze", func(t *testing.T) {
		r := call(t, e, "POST", freeze, tok, body)
		tr := engineTrain(t, e)
		if tr.Frozen == nil || tr.Frozen.Reason != xssReason || tr.Frozen.By != "ops (API token api)" || tr.Frozen.Kind != train.HoldFrozen {
			t.Fatalf("frozen %+v after freeze", tr.Frozen)
		}
		frozen := `"frozen":{"kind":"frozen","reason":"<script>alert(1)</script>","by":"ops (API token api)"},` +
			`"hold":{"kind":"frozen","reason":"<script>alert(1)</script>","sentence":"the merge train is frozen by ops (API token api): <script>alert(1)</script>"}`
		r.want(t, 200, fmt.Sprintf(`{"forge":"gitlab","project":"group/app","branch":"main","paused":false,"draining":false,%s,"target_head":%q,
			"max_parallel":20,"cars":[%s],"version":%d}`, frozen, tr.TargetHead, carJSON(e, tr.Cars[0], 1, ""), tr.Version))
		call(t, e, "GET", "/api/v1/trains", "", "").want(t, 200,
			`{"trains":[{"forge":"gitlab","project":"group/app","branch":"main","paused":false,"draining":false,`+frozen+`,"cars":1,"running":1}]}`)
		// A new reason replaces the old one.
		call(t, e, "POST", freeze, tok, `{"reason":"  release 2.0 is being cut "}`)
		if tr := engineTrain(t, e); tr.Frozen == nil || tr.Frozen.Reason != "release 2.0 is being cut" || tr.Frozen.By != "api" {
			t.Fatalf("frozen %+v after a second freeze", tr.Frozen)
		}
		r = call(t, e, "POST", trainPath+"/unfreeze", tok, "")
		if tr := engineTrain(t, e); tr.Frozen != nil {
			t.Fatalf("frozen %+v after unfreeze", tr.Frozen)
		}
		if r.status != 200 || strings.Contains(string(r.body), `"frozen"`) || strings.Contains(string(r.body), `"hold"`) {
			t.Fatalf("unfreeze: %d %s", r.status, r.body)
		}
	})
	t.Run("drain and undrain", func(t *testing.T) {
		r := call(t, e, "POST", trainPath+"/drain", tok, `{"user":"ops"}`)
		if !engineTrain(t, e).Draining {
			t.Fatal("the train is not draining after drain")
		}
		if r.status != 200 || !strings.Contains(string(r.body), `"draining":true`) {
			t.Fatalf("drain: %d %s", r.status, r.body)
		}
		call(t, e, "GET", "/api/v1/trains", "", "").want(t, 200,
			`{"trains":[{"forge":"gitlab","project":"group/app","branch":"main","paused":false,"draining":true,"cars":1,"running":1}]}`)
		two := e.MR(2, false)
		// The train answers a draining train's refusal on the MR; the
		// call says it was refused.
		call(t, e, "POST", mrPath+fmt.Sprint(two)+"/add", tok, "").wantError(t, 409,
			"merge request !2 of group/app refused: the merge train did not take it; the merge request's comments say why")
		if n := e.Notes(two); !strings.Contains(n, "is draining") {
			t.Errorf("no draining reply on the MR: %q", n)
		}
		if tr := engineTrain(t, e); len(tr.Cars) != 1 {
			t.Fatalf("a draining train took a new car: %+v", tr.Cars)
		}
		call(t, e, "POST", trainPath+"/undrain", tok, "")
		if engineTrain(t, e).Draining {
			t.Fatal("the train is draining after undrain")
		}
	})
}

// A scheduled hold shows as the train's hold, with when it ends, and the
// cars have no estimate meanwhile.
func TestScheduledHold(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Settings: train.Settings{Schedule: train.Schedule{Freezes: []train.FreezePeriod{{
		From: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 3, 2, 8, 0, 0, 0, time.UTC), Reason: "quarter end",
	}}}}})
	one := e.MR(1, false)
	call(t, e, "POST", mrPath+fmt.Sprint(one)+"/add", tok, "")
	e.Sweep()
	tr := engineTrain(t, e)
	hold := `"hold":{"kind":"freeze_period","reason":"quarter end","until":"2025-03-02T08:00:00Z",
		"sentence":"the target branch is in a freeze period until 2025-03-02 08:00 UTC: quarter end"}`
	call(t, e, "GET", trainPath, "", "").want(t, 200, fmt.Sprintf(`{"forge":"gitlab","project":"group/app","branch":"main","paused":false,"draining":false,
		%s,"target_head":%q,"max_parallel":20,"cars":[%s],"version":%d}`, hold, tr.TargetHead, carJSON(e, tr.Cars[0], 1, ""), tr.Version))
	call(t, e, "GET", "/api/v1/trains", "", "").want(t, 200,
		`{"trains":[{"forge":"gitlab","project":"group/app","branch":"main","paused":false,"draining":false,`+hold+`,"cars":1,"running":1}]}`)
}

// An add whose car leaves within the call (here a conflict found when it
// is built) is not a refusal: the train took it, and its history says
// how it left.
func TestAddOfACarThatLeavesAtOnce(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	open := func(n int, content string) int64 {
		t.Helper()
		m, err := e.Forge.CreateMR(e.Ctx, apitest.Project, fakeforge.MRSpec{Source: fmt.Sprintf("shared-%d", n), Title: fmt.Sprintf("Shared %d", n),
			Author: "alice", Commits: []fakeforge.Commit{{Message: "shared", Files: map[string]string{"shared.txt": content}}}})
		if err != nil {
			t.Fatal(err)
		}
		return m.IID
	}
	one, two := open(1, "one\n"), open(2, "two\n")
	if r := call(t, e, "POST", mrPath+fmt.Sprint(one)+"/add", tok, ""); r.status != 200 || !strings.Contains(string(r.body), `"car"`) {
		t.Fatalf("add of !%d: %d %s", one, r.status, r.body)
	}
	r := call(t, e, "POST", mrPath+fmt.Sprint(two)+"/add", tok, "")
	if r.status != 200 || strings.Contains(string(r.body), `"car"`) {
		t.Fatalf("add of a conflicting MR: %d %s, want 200 with no car", r.status, r.body)
	}
	if n := e.Notes(two); !strings.Contains(n, "does not merge cleanly") {
		t.Fatalf("!%d was not told of its conflict: %q", two, n)
	}
}

// An add to a train that tests its MRs in their lanes first answers with
// the MR in its lanes, not a refusal; the train lists it there.
func TestAddToLanes(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{Settings: train.Settings{LaneTrains: true,
		Lanes: []train.Lane{{Name: "one", Paths: []string{"mr-1.txt"}}, {Name: "two", Paths: []string{"mr-2.txt"}}}}})
	one := e.MR(1, false)
	call(t, e, "POST", mrPath+fmt.Sprint(one)+"/add", tok, "").want(t, 200, fmt.Sprintf(
		`{"forge":"gitlab","project":"group/app","mr":%[1]d,"label":"!%[1]d","branch":"main","in_lanes":{"mr":%[1]d,"label":"!%[1]d","title":"Change 1",
		"mr_url":"%[2]s/group/app/-/merge_requests/%[1]d","added_by":"api","added_at":"2025-03-01T12:00:00Z","lanes":["one"],"passed":[]}}`, one, e.Forge.URL()))
	r := call(t, e, "GET", trainPath, "", "")
	if r.status != 200 || !strings.Contains(string(r.body), `"cars":[],"in_lanes":[{"mr":1,`) {
		t.Fatalf("train: %d %s", r.status, r.body)
	}
}

// hangingSteer holds an add until told, then reports whether its
// context was cancelled meanwhile.
type hangingSteer struct {
	api.Steering
	started chan struct{}
	result  chan error
}

func (s *hangingSteer) Add(ctx context.Context, _ engine.Request) error {
	close(s.started)
	select {
	case <-ctx.Done():
		s.result <- ctx.Err()
	case <-time.After(500 * time.Millisecond):
		s.result <- nil
	}
	return nil
}

func (s *hangingSteer) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-s.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the add never reached the engine")
	}
}

// A caller that hangs up does not stop its command half way: the add
// goes on to its end (its result is on the MR and the train).
func TestCommandOutlivesItsCaller(t *testing.T) {
	t.Parallel()
	steer := &hangingSteer{started: make(chan struct{}), result: make(chan error, 1)}
	srv := httptest.NewServer(api.New(api.Options{Trains: engine.NewRouter(), Steer: steer, Token: tok,
		Profiles: forge.Profiles{"gitlab": gitlab.Profile("")}}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+mrPath+"7/add", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	steer.waitStarted(t)
	cancel()
	<-done
	if err := <-steer.result; err != nil {
		t.Fatalf("the add's context ended with its caller: %v", err)
	}
}

// A server shutting down gives a command in flight its grace, and then
// stops it.
func TestCommandStopsWithTheServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		grace time.Duration
		want  error
	}{
		{"within the grace", 5 * time.Second, nil},
		{"past the grace", 50 * time.Millisecond, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			steer := &hangingSteer{started: make(chan struct{}), result: make(chan error, 1)}
			h := api.New(api.Options{Trains: engine.NewRouter(), Steer: steer, Token: tok, Profiles: forge.Profiles{"gitlab": gitlab.Profile("")}})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- server.ServeListener(ctx, ln, h, tc.grace) }()
			go func() {
				req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+mrPath+"7/add", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
			steer.waitStarted(t)
			cancel()
			if err := <-steer.result; !errors.Is(err, tc.want) {
				t.Fatalf("the add's context after the server began to shut down: %v, want %v", err, tc.want)
			}
			<-served
		})
	}
}

// The open MRs of a configured project come from its forge, the most
// recently updated first; a project not configured is not found.
func TestOpenMergeRequests(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	one, two := e.MR(1, false), e.MR(2, true)
	call(t, e, http.MethodGet, "/api/v1/merge_requests/gitlab/group%2Fapp", tok, "").want(t, http.StatusOK, fmt.Sprintf(`{"merge_requests": [
		{"mr": %d, "label": "!%d", "title": "Draft: Change 2", "source_branch": "feature-2", "target_branch": "main", "author": "alice", "draft": true, "web_url": %q},
		{"mr": %d, "label": "!%d", "title": "Change 1", "source_branch": "feature-1", "target_branch": "main", "author": "alice", "web_url": %q}]}`,
		two, two, e.Forge.URL()+"/group/app/-/merge_requests/"+fmt.Sprint(two), one, one, e.Forge.URL()+"/group/app/-/merge_requests/"+fmt.Sprint(one)))
	call(t, e, http.MethodGet, "/api/v1/merge_requests/gitlab/group%2Fapp?limit=1", tok, "").want(t, http.StatusOK, fmt.Sprintf(`{"merge_requests": [
		{"mr": %d, "label": "!%d", "title": "Draft: Change 2", "source_branch": "feature-2", "target_branch": "main", "author": "alice", "draft": true, "web_url": %q}]}`,
		two, two, e.Forge.URL()+"/group/app/-/merge_requests/"+fmt.Sprint(two)))
	call(t, e, http.MethodGet, "/api/v1/merge_requests/gitlab/group%2Fapp?limit=1000", tok, "").wantError(t, http.StatusBadRequest, `limit: want a number from 1 to 100, got "1000"`)
	call(t, e, http.MethodGet, "/api/v1/merge_requests/gitlab/other%2Fapp", tok, "").wantError(t, http.StatusNotFound, "open merge requests of other/app not found")
	call(t, e, http.MethodGet, "/api/v1/merge_requests/gitea/group%2Fapp", tok, "").wantError(t, http.StatusNotFound, `forge "gitea": forge not configured`)
}

// The configured projects are listed whether they have a train or not.
func TestProjects(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	call(t, e, http.MethodGet, "/api/v1/projects", "", "").want(t, http.StatusOK, `{"projects": [{"forge": "gitlab", "project": "group/app"}]}`)
	p := apitest.New(t, apitest.Options{ProtectReads: true})
	if r := call(t, p, http.MethodGet, "/api/v1/projects", "", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("protected reads without a token: %d %s", r.status, r.body)
	}
}
