package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/server"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
	"github.com/trainyard/trainyard/internal/web"
)

const (
	token   = "dashboard-token-for-tests"
	project = "group/app"
	forgeAt = "https://gitlab.example.com"
	xss     = "<script>alert(1)</script>"
)

var key = train.Key{Forge: "gitlab", Project: project, Branch: "release/1.0"}

// env is a dashboard over a real engine and a real Redis, holding one
// saved train. The engine's forge client points at a server that knows
// nothing: pausing a train with running cars asks the forge nothing.
type env struct {
	ctx   context.Context
	store *store.Store
	url   string
	now   time.Time
}

func newEnv(t *testing.T, public bool) *env {
	t.Helper()
	return newEnvWith(t, public, nil)
}

// newEnvWith serves the dashboard with named tokens beside the one token.
func newEnvWith(t *testing.T, public bool, tokens []api.Token) *env {
	t.Helper()
	return newEnvSettings(t, public, tokens, train.Settings{})
}

// newEnvSettings serves the dashboard over an engine whose trains have
// settings s.
func newEnvSettings(t *testing.T, public bool, tokens []api.Token, s train.Settings) *env {
	t.Helper()
	return newEnvOptions(t, public, tokens, s, nil)
}

// newEnvOptions is newEnvSettings with the dashboard's options adjusted
// by mutate.
func newEnvOptions(t *testing.T, public bool, tokens []api.Token, s train.Settings, mutate func(*web.Options)) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	nowhere := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(nowhere.Close)
	client, err := gitlab.New(gitlab.Options{BaseURL: nowhere.URL, Token: "bot-token", BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	profile := gitlab.Profile(forgeAt)
	eng := engine.New(engine.Config{Profile: profile, Owner: "web-test", Projects: []string{project}, Settings: s}, st, client, nil,
		engine.WithClock(clock))
	router := engine.NewRouter(eng)
	// The engine freezes and drains its own trains; the router, which the
	// server uses, does once it routes those calls too.
	opts := web.Options{Trains: router, Freeze: api.FreezingOf(nil, router, eng), Token: token, Tokens: tokens, Public: public,
		Profiles: forge.Profiles{gitlab.Name: profile}, Now: clock, Poll: 50 * time.Millisecond}
	if mutate != nil {
		mutate(&opts)
	}
	d, err := web.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// Timeouts as a real server has, shortened: the event stream must
	// outlive them.
	srv := httptest.NewUnstartedServer(d)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	e := &env{ctx: ctx, store: st, url: srv.URL, now: now}
	e.seed(t)
	return e
}

// seed saves a train of three cars (the second titled as an attack) and
// a history of one merge and one eviction.
func (e *env) seed(t *testing.T) {
	t.Helper()
	at := e.now.Add(-time.Hour)
	tr := train.New(key, train.Settings{MaxParallel: 2})
	tr.TargetHead = strings.Repeat("a", 40)
	tr.Cars = []train.Car{
		{MR: 11, HeadSHA: "h11", Title: "Add the widget", AddedBy: "alice", AddedAt: at, Priority: train.PriorityNormal,
			State: train.StateRunning, Base: tr.TargetHead, Commit: strings.Repeat("b", 40), Pipeline: 501,
			PipelineStartedAt: e.now.Add(-5 * time.Minute), Attempts: 1, Builds: 1},
		{MR: 12, HeadSHA: "h12", Title: xss, AddedBy: "mallory", AddedAt: at, Priority: train.PriorityNormal,
			State: train.StateRunning, Base: strings.Repeat("b", 40), Commit: strings.Repeat("c", 40), Pipeline: 502,
			PipelineStartedAt: e.now.Add(-4 * time.Minute), Attempts: 1, Builds: 1},
	}
	if _, err := e.store.Save(e.ctx, tr); err != nil {
		t.Fatal(err)
	}
	merged := train.Car{MR: 7, Title: "Fix the frobnicator", AddedBy: "bob", AddedAt: e.now.Add(-3 * time.Hour),
		State: train.StateMerged, Commit: strings.Repeat("d", 40), Pipeline: 400,
		PipelineStartedAt: e.now.Add(-150 * time.Minute), LeftAt: e.now.Add(-2 * time.Hour),
		Reason: &train.Reason{Code: train.ReasonMerged},
		// Built twice: its first pipeline was cancelled when a car ahead left.
		Trail: []train.Mark{
			{At: e.now.Add(-170 * time.Minute), Kind: train.MarkBuilt, Commit: strings.Repeat("f", 40), Base: strings.Repeat("1", 40)},
			{At: e.now.Add(-169 * time.Minute), Kind: train.MarkPipeline, Pipeline: 399, Commit: strings.Repeat("f", 40), Status: train.PipelineCanceled},
			{At: e.now.Add(-151 * time.Minute), Kind: train.MarkBuilt, Commit: strings.Repeat("d", 40), Base: strings.Repeat("2", 40)},
			{At: e.now.Add(-150 * time.Minute), Kind: train.MarkPipeline, Pipeline: 400, Commit: strings.Repeat("d", 40), Status: train.PipelineSuccess},
		}}
	evicted := train.Car{MR: 8, Title: "Break the build", AddedBy: "carol", AddedAt: e.now.Add(-90 * time.Minute),
		State: train.StateEvicted, Commit: strings.Repeat("e", 40), Pipeline: 401,
		PipelineStartedAt: e.now.Add(-80 * time.Minute), LeftAt: e.now.Add(-70 * time.Minute),
		Reason: &train.Reason{Code: train.ReasonPipelineFailed, Pipeline: 401,
			Message: train.Join("Removed from the train: ", train.PipelineRef(401), " failed.")}}
	if err := e.store.AppendHistory(e.ctx, key, merged, evicted); err != nil {
		t.Fatal(err)
	}
}

type reply struct {
	status int
	header http.Header
	body   string
}

// do makes a request; token "" sends none.
func (e *env) do(t *testing.T, method, path, tok string) reply {
	t.Helper()
	return e.post(t, method, path, tok, nil)
}

// post makes a request with a form; token "" sends none.
func (e *env) post(t *testing.T, method, path, tok string, form url.Values) reply {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

func (r reply) want(t *testing.T, status int, has ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body:\n%s", r.status, status, r.body)
	}
	for _, s := range has {
		if !strings.Contains(r.body, s) {
			t.Errorf("body lacks %q:\n%s", s, r.body)
		}
	}
}

var trainPath = "/trains/gitlab/" + url.PathEscape(project) + "/" + url.PathEscape(key.Branch)

func TestIndexShowsTrains(t *testing.T) {
	e := newEnv(t, true)
	r := e.do(t, http.MethodGet, "/", "")
	r.want(t, http.StatusOK,
		`href="/trains/gitlab/group%2Fapp/release%2F1.0"`,
		"<caption>", "group/app", "release/1.0", "GitLab",
		`<td class="num">2</td>`, // cars, and pipelines running
		`<td class="num">1</td>`, // merged in the last day
		"1h0m",                   // p50 time to merge: the one merge took an hour
		"about ",                 // the last car's estimate
	)
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestTrainPageShowsCarsAndHistory(t *testing.T) {
	e := newEnv(t, true)
	r := e.do(t, http.MethodGet, trainPath, "")
	r.want(t, http.StatusOK,
		forgeAt+"/group/app/-/merge_requests/11", "!11", "Add the widget",
		forgeAt+"/group/app/-/pipelines/501", "pipeline #501",
		"running", "bbbbbbbbbbbb", // car 2 is tested on car 1's commit
		"1h0m", // time on the train
		"Fix the frobnicator", "merged",
		"Removed from the train: pipeline #401 failed.", "evicted",
		`/mrs/gitlab/group%2Fapp/12`,
	)
}

func TestMRPageShowsJourney(t *testing.T) {
	e := newEnv(t, true)
	r := e.do(t, http.MethodGet, "/mrs/gitlab/"+url.PathEscape(project)+"/8", "")
	r.want(t, http.StatusOK, "Break the build", "added", "by carol", "built", "pipeline #401", "evicted",
		"Removed from the train: pipeline #401 failed.")
	r = e.do(t, http.MethodGet, "/mrs/gitlab/"+url.PathEscape(project)+"/11", "")
	r.want(t, http.StatusOK, "Add the widget", "On the train", "position 1", "pipeline #501")
	e.do(t, http.MethodGet, "/mrs/gitlab/"+url.PathEscape(project)+"/99", "").want(t, http.StatusNotFound, "on no train")
}

// A car's trail shows every build and pipeline of its ride, in order.
func TestMRPageShowsEveryBuildAndPipeline(t *testing.T) {
	e := newEnv(t, true)
	r := e.do(t, http.MethodGet, "/mrs/gitlab/"+url.PathEscape(project)+"/7", "")
	r.want(t, http.StatusOK, "Fix the frobnicator")
	order := []string{"by bob", "commit ffffffffffff", "on 111111111111", "pipeline #399", "cancelled",
		"commit dddddddddddd", "on 222222222222", "pipeline #400", "passed", "merged"}
	at := 0
	for _, w := range order {
		i := strings.Index(r.body[at:], w)
		if i < 0 {
			t.Fatalf("%q is not in the page after %q:\n%s", w, r.body[:at], r.body)
		}
		at += i + len(w)
	}
}

func TestTitlesAreEscaped(t *testing.T) {
	e := newEnv(t, true)
	for _, path := range []string{trainPath, "/mrs/gitlab/" + url.PathEscape(project) + "/12"} {
		r := e.do(t, http.MethodGet, path, "")
		r.want(t, http.StatusOK, "&lt;script&gt;alert(1)&lt;/script&gt;")
		if strings.Contains(r.body, xss) {
			t.Errorf("%s: the title is in the page unescaped", path)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, true)
	for _, path := range []string{"/", trainPath, "/nowhere", "/static/dashboard.css", "/login"} {
		r := e.do(t, http.MethodGet, path, "")
		for name, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
				"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "same-origin",
		} {
			if got := r.header.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
	}
}

func TestActionsNeedTheToken(t *testing.T) {
	e := newEnv(t, true)
	for _, path := range []string{trainPath + "/pause", trainPath + "/cars/11/remove", trainPath + "/cars/11/retry"} {
		e.do(t, http.MethodPost, path, "").want(t, http.StatusUnauthorized)
		e.do(t, http.MethodPost, path, "wrong-token-of-some-length").want(t, http.StatusUnauthorized)
	}
	tr, err := e.store.Load(e.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Paused || len(tr.Cars) != 2 || tr.Version != 1 {
		t.Fatalf("refused actions changed the train: paused %v, %d cars, version %d", tr.Paused, len(tr.Cars), tr.Version)
	}
	r := e.do(t, http.MethodPost, trainPath+"/pause", token)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != trainPath {
		t.Fatalf("pause: status %d, Location %q; body:\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if tr, err = e.store.Load(e.ctx, key); err != nil {
		t.Fatal(err)
	}
	if !tr.Paused {
		t.Fatal("the train is not paused")
	}
	e.do(t, http.MethodGet, "/", "").want(t, http.StatusOK, "paused")
}

// A read-only token signs in to read, and its actions are refused; a
// named write token acts under its name.
func TestNamedTokens(t *testing.T) {
	const reader, writer = "grafana-token-of-some-length", "release-token-of-some-length"
	e := newEnvWith(t, false, []api.Token{{Name: "grafana", Value: reader}, {Name: "release", Write: true, Value: writer}})
	e.do(t, http.MethodGet, trainPath, reader).want(t, http.StatusOK, "Add the widget")
	e.do(t, http.MethodPost, trainPath+"/pause", reader).want(t, http.StatusForbidden, "token grafana may only read")
	tr, err := e.store.Load(e.ctx, key)
	if err != nil || tr.Paused {
		t.Fatalf("a read-only token paused the train (%v)", err)
	}
	if r := e.do(t, http.MethodPost, trainPath+"/pause", writer); r.status != http.StatusSeeOther {
		t.Fatalf("pause with the release token: %d\n%s", r.status, r.body)
	}
	if tr, err = e.store.Load(e.ctx, key); err != nil || !tr.Paused {
		t.Fatalf("the release token did not pause the train (%v)", err)
	}
	e.do(t, http.MethodGet, trainPath, "wrong-token-of-some-length").want(t, http.StatusUnauthorized, "invalid token")
}

func TestActionsRefusedWithoutAConfiguredToken(t *testing.T) {
	d, err := web.New(web.Options{Trains: nil, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	resp, err := http.Post(srv.URL+trainPath+"/pause", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
}

func TestPrivateDashboardNeedsTheToken(t *testing.T) {
	e := newEnv(t, false)
	for _, path := range []string{"/", trainPath, "/mrs/gitlab/" + url.PathEscape(project) + "/11", "/events"} {
		e.do(t, http.MethodGet, path, "").want(t, http.StatusUnauthorized, "Sign in")
	}
	e.do(t, http.MethodGet, "/", token).want(t, http.StatusOK, "release/1.0")
	e.do(t, http.MethodGet, "/login", "").want(t, http.StatusOK, `<label for="token">`)
}

func TestSignInSetsASessionCookie(t *testing.T) {
	e := newEnv(t, false)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp := e.signIn(t, client, "not the token at all", trainPath); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("a wrong token: status %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp := e.signIn(t, client, token, trainPath)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != trainPath {
		t.Fatalf("status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || strings.Contains(cookies[0].Value, token) {
		t.Fatalf("cookies %+v", cookies)
	}
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.url+trainPath, nil)
	req.AddCookie(cookies[0])
	got, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got.Body.Close()
	if got.StatusCode != http.StatusOK {
		t.Fatalf("with the cookie: status %d", got.StatusCode)
	}
	// A form posted from another site is refused even with the cookie.
	req, _ = http.NewRequestWithContext(e.ctx, http.MethodPost, e.url+trainPath+"/pause", nil)
	req.AddCookie(cookies[0])
	req.Header.Set("Origin", "https://evil.example")
	if got, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	got.Body.Close()
	if got.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site post: status %d, want 403", got.StatusCode)
	}
}

// Where to go after signing in stays on this site, however it is written.
func TestSignInRedirectsOnlyWithinTheSite(t *testing.T) {
	e := newEnv(t, false)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, next := range []string{"https://evil.example/", "//evil.example", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", "\\\\evil.example", "evil.example"} {
		if got := e.signIn(t, client, token, next).Header.Get("Location"); got != "/" {
			t.Errorf("next %q redirects to %q, want /", next, got)
		}
	}
	for _, ok := range []string{trainPath, "/?page=2"} {
		if got := e.signIn(t, client, token, ok).Header.Get("Location"); got != ok {
			t.Errorf("next %q redirects to %q", ok, got)
		}
	}
}

// signIn posts the sign-in form with tok and next.
func (e *env) signIn(t *testing.T, client *http.Client, tok, next string) *http.Response {
	t.Helper()
	resp, err := client.PostForm(e.url+"/login", url.Values{"token": {tok}, "next": {next}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// On a public dashboard, readers who are not signed in get at most three
// quarters of the live update streams: the rest stay for those who are.
func TestAnonymousStreamsLeaveRoom(t *testing.T) {
	e := newEnvOptions(t, true, nil, train.Settings{}, func(o *web.Options) { o.MaxStreams = 4 })
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	open := func(bearer string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/events", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return resp.StatusCode
		}
		// Held open until the test ends; the first comment says it is.
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp.StatusCode
	}
	for i := range 3 {
		if code := open(""); code != http.StatusOK {
			t.Fatalf("anonymous stream %d: %d", i+1, code)
		}
	}
	if code := open(""); code != http.StatusServiceUnavailable {
		t.Fatalf("a fourth anonymous stream: %d, want 503", code)
	}
	if code := open(token); code != http.StatusOK {
		t.Fatalf("a signed-in stream with anonymous ones at their limit: %d", code)
	}
	if code := open(token); code != http.StatusServiceUnavailable {
		t.Fatalf("a stream past MaxStreams: %d, want 503", code)
	}
}

func TestEventsOnSave(t *testing.T) {
	e := newEnv(t, true)
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// The stream is open once its first comment came.
	for l := range lines {
		if strings.HasPrefix(l, ":") {
			break
		}
	}
	// Past the server's read and write timeouts.
	time.Sleep(time.Second)
	tr, err := e.store.Load(e.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	tr.Cars = tr.Cars[:1]
	saved := time.Now()
	if _, err := e.store.Save(e.ctx, tr); err != nil {
		t.Fatal(err)
	}
	want := "data: " + trainPath
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended without the event")
			}
			if l == want {
				if d := time.Since(saved); d > 2*time.Second {
					t.Fatalf("the event came after %v", d)
				}
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %q within 5s", want)
		}
	}
}

// The dashboard takes "/" on the server beside the API and the health
// checks, as trainyard serve mounts it, and leaves their paths to them.
func TestMountedAtRoot(t *testing.T) {
	d, err := web.New(web.Options{Trains: emptyTrains{}, Public: true})
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	srv := httptest.NewServer(server.Handler(server.Options{Mounts: map[string]http.Handler{"/api/v1/": api, "/": d}}))
	defer srv.Close()
	for path, want := range map[string]int{"/": http.StatusOK, "/healthz": http.StatusOK, "/api/v1/trains": http.StatusTeapot,
		"/static/dashboard.js": http.StatusOK, "/no/such/page": http.StatusNotFound} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// emptyTrains is a store without trains.
type emptyTrains struct{}

func (emptyTrains) Trains(context.Context) ([]train.Key, error) { return nil, nil }
func (emptyTrains) Train(_ context.Context, k train.Key) (train.Train, error) {
	return train.New(k, train.Settings{}), nil
}
func (emptyTrains) History(context.Context, train.Key, int64) ([]train.Car, error) { return nil, nil }

// load reads the seeded train from the store.
func (e *env) load(t *testing.T) train.Train {
	t.Helper()
	tr, err := e.store.Load(e.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// A frozen, draining train says so on its page and in the list, with the
// reason escaped as every text from people is, and its cars say held
// instead of an estimate.
func TestFrozenTrainShowsItsReasonEscaped(t *testing.T) {
	e := newEnv(t, true)
	tr := e.load(t)
	tr.Frozen = &train.Hold{Kind: train.HoldFrozen, Reason: xss, By: "mallory"}
	tr.Draining = true
	if _, err := e.store.Save(e.ctx, tr); err != nil {
		t.Fatal(err)
	}
	escaped := "&lt;script&gt;alert(1)&lt;/script&gt;"
	r := e.do(t, http.MethodGet, trainPath, token)
	r.want(t, http.StatusOK, `<span class="badge frozen">frozen</span>`,
		"Nothing merges while the train is frozen by mallory: <strong class=\"reason\">"+escaped+"</strong>. Cars are still built and tested",
		`<span class="badge draining">draining</span>`, "<td>held</td>",
		`action="`+trainPath+`/unfreeze"`, "Unfreeze the train", `action="`+trainPath+`/undrain"`, "Take new cars again")
	for _, not := range []string{xss, "Freeze the train", `/drain"`, "about "} {
		if strings.Contains(r.body, not) {
			t.Errorf("the frozen train's page holds %q:\n%s", not, r.body)
		}
	}
	r = e.do(t, http.MethodGet, "/", "")
	r.want(t, http.StatusOK, `<span class="badge frozen">frozen</span> <span class="badge draining">draining</span>`,
		`frozen: <span class="reason">`+escaped+`</span>`, "<td>held</td>")
	if strings.Contains(r.body, xss) {
		t.Errorf("the reason is in the list unescaped:\n%s", r.body)
	}
}

// A freeze period shows with its reason and when it ends.
func TestScheduledHoldShowsUntilWhen(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) // newEnv's clock
	e := newEnvSettings(t, true, nil, train.Settings{Schedule: train.Schedule{Freezes: []train.FreezePeriod{{
		From: now.Add(-time.Hour), Until: now.Add(20 * time.Hour), Reason: "quarter end"}}}})
	want := []string{`<span class="badge held">freeze period</span>`, "quarter end",
		`until <time datetime="2026-03-03T08:00:00Z">2026-03-03 08:00:00 UTC</time>`, "<td>held</td>"}
	e.do(t, http.MethodGet, trainPath, "").want(t, http.StatusOK, append(want,
		"Nothing merges while the target branch is in a freeze period: <strong class=\"reason\">quarter end</strong>, until")...)
	e.do(t, http.MethodGet, "/", "").want(t, http.StatusOK, want...)
}

// The freeze, unfreeze, drain and undrain forms need a write token as
// pause does, and a freeze needs a reason.
func TestFreezeAndDrainForms(t *testing.T) {
	const reader = "grafana-token-of-some-length"
	e := newEnvWith(t, true, []api.Token{{Name: "grafana", Value: reader}})
	reason := url.Values{"reason": {xss}}
	for _, verb := range []string{"freeze", "unfreeze", "drain", "undrain"} {
		e.post(t, http.MethodPost, trainPath+"/"+verb, "", reason).want(t, http.StatusUnauthorized)
		e.post(t, http.MethodPost, trainPath+"/"+verb, "wrong-token-of-some-length", reason).want(t, http.StatusUnauthorized)
		e.post(t, http.MethodPost, trainPath+"/"+verb, reader, reason).want(t, http.StatusForbidden, "token grafana may only read")
	}
	if tr := e.load(t); tr.Frozen != nil || tr.Draining || tr.Version != 1 {
		t.Fatalf("refused forms changed the train: frozen %+v, draining %v, version %d", tr.Frozen, tr.Draining, tr.Version)
	}
	e.post(t, http.MethodPost, trainPath+"/freeze", token, url.Values{"reason": {"  "}}).
		want(t, http.StatusBadRequest, "reason: want why the train is frozen, 1 to 200 characters")
	e.post(t, http.MethodPost, trainPath+"/freeze", token, url.Values{"reason": {strings.Repeat("x", 201)}}).
		want(t, http.StatusBadRequest, "reason: want at most 200 characters, got 201")
	e.post(t, http.MethodPost, trainPath+"/freeze", token, url.Values{"reason": {"a\r\nb"}}).
		want(t, http.StatusBadRequest, "reason: want text without control or formatting characters")
	e.post(t, http.MethodPost, "/trains/gitlab/"+url.PathEscape(project)+"/develop/freeze", token, reason).
		want(t, http.StatusNotFound, "There is no train develop of group/app on gitlab.")
	if tr := e.load(t); tr.Frozen != nil {
		t.Fatalf("a refused freeze froze the train: %+v", tr.Frozen)
	}

	steps := []struct {
		verb string
		form url.Values
		ok   func(train.Train) bool
	}{
		{"freeze", reason, func(tr train.Train) bool {
			return tr.Frozen != nil && tr.Frozen.Reason == xss && tr.Frozen.By == "api"
		}},
		{"drain", nil, func(tr train.Train) bool { return tr.Draining }},
		{"unfreeze", nil, func(tr train.Train) bool { return tr.Frozen == nil && tr.Draining }},
		{"undrain", nil, func(tr train.Train) bool { return !tr.Draining }},
	}
	for _, s := range steps {
		r := e.post(t, http.MethodPost, trainPath+"/"+s.verb, token, s.form)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != trainPath {
			t.Fatalf("%s: status %d, Location %q; body:\n%s", s.verb, r.status, r.header.Get("Location"), r.body)
		}
		if tr := e.load(t); !s.ok(tr) {
			t.Fatalf("after %s: frozen %+v, draining %v", s.verb, tr.Frozen, tr.Draining)
		}
		if s.verb == "freeze" {
			e.do(t, http.MethodGet, trainPath, "").want(t, http.StatusOK, "&lt;script&gt;alert(1)&lt;/script&gt;")
		}
	}
	// A form posted from another site is refused.
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost, e.url+trainPath+"/freeze", strings.NewReader(reason.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || e.load(t).Frozen != nil {
		t.Fatalf("a cross-site freeze: status %d, want 403 and no freeze", resp.StatusCode)
	}
}

// A page of another site cannot sign the operator out: logout takes a
// form from the dashboard alone, as login does.
func TestLogoutFromAnotherSiteIsRefused(t *testing.T) {
	e := newEnv(t, true)
	for _, c := range []struct {
		origin string
		status int
	}{{"https://evil.example", http.StatusForbidden}, {e.url, http.StatusSeeOther}} {
		req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost, e.url+"/logout", strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.origin)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cleared := slices.ContainsFunc(resp.Cookies(), func(c *http.Cookie) bool { return c.MaxAge < 0 })
		if resp.StatusCode != c.status || cleared != (c.status == http.StatusSeeOther) {
			t.Errorf("logout from %s: status %d, session cleared %v; want %d", c.origin, resp.StatusCode, cleared, c.status)
		}
	}
}

// A car's journey shows when it could have merged but the target was
// held, and why.
func TestMRPageShowsHeldMarks(t *testing.T) {
	e := newEnv(t, true)
	tr := e.load(t)
	tr.Cars[0].Trail = []train.Mark{
		{At: e.now.Add(-5 * time.Minute), Kind: train.MarkPipeline, Pipeline: 501, Status: train.PipelineSuccess},
		{At: e.now.Add(-4 * time.Minute), Kind: train.MarkHeld, Hold: train.HoldFrozen, Reason: "the merge train is frozen by mallory: " + xss},
	}
	if _, err := e.store.Save(e.ctx, tr); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, http.MethodGet, "/mrs/gitlab/"+url.PathEscape(project)+"/11", "")
	r.want(t, http.StatusOK, `<span class="what">held</span>`, "2026-03-02 11:56:00 UTC",
		"the merge train is frozen by mallory: &lt;script&gt;alert(1)&lt;/script&gt;")
	if strings.Contains(r.body, xss) {
		t.Errorf("the held mark's reason is in the page unescaped:\n%s", r.body)
	}
}

// A car's priority, what it depends on, the branch it is stacked on and
// the lanes it touches show on the train's page.
func TestCarShowsPriorityDependenciesAndLanes(t *testing.T) {
	e := newEnv(t, true)
	tr := e.load(t)
	if len(tr.Cars) < 2 {
		t.Fatalf("the sample train has %d cars, want 2 or more", len(tr.Cars))
	}
	last := &tr.Cars[len(tr.Cars)-1]
	last.Priority = train.PriorityUrgent
	last.DependsOn = []train.Dep{{MR: tr.Cars[0].MR, Label: "ignored: the page writes its own"}}
	last.Stacked = "feature/<base>"
	last.Lanes = []string{"api", "web"}
	if _, err := e.store.Save(e.ctx, tr); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, http.MethodGet, trainPath, "")
	r.want(t, http.StatusOK, `<span class="badge priority">urgent</span>`,
		fmt.Sprintf("depends on !%d</span>", tr.Cars[0].MR), "stacked on <code>feature/&lt;base&gt;</code>",
		`lanes <span class="badge lane">api</span>, <span class="badge lane">web</span>`)
}

// The MRs tested in their lanes first show on the train's page in a
// section of their own, with where each stands in each lane, and their
// titles as text.
func TestTrainPageShowsTheMRsInTheirLanes(t *testing.T) {
	e := newEnv(t, true)
	tr := e.load(t)
	r := e.do(t, http.MethodGet, trainPath, "")
	if strings.Contains(r.body, "In their lanes") {
		t.Fatal("a train without MRs in lanes shows the section")
	}
	tr.InLanes = []train.LaneCar{{Add: train.Added{MR: 77, Title: "<b>api</b> change", By: "alice"},
		Lanes: []string{"api", "web"}, Passed: []string{"web"}, Since: e.now.Add(-3 * time.Minute)}}
	if _, err := e.store.Save(e.ctx, tr); err != nil {
		t.Fatal(err)
	}
	r = e.do(t, http.MethodGet, trainPath, "")
	r.want(t, http.StatusOK, `<h2 id="lanes-h">In their lanes</h2>`, "!77</a> &lt;b&gt;api&lt;/b&gt; change",
		`<span class="badge lane">api</span> <span class="badge running">testing</span>, <span class="badge lane">web</span> <span class="badge passed">passed</span>`,
		"3m ago", "added by alice")
	// Its page says it is on the train, in its lanes.
	r = e.do(t, http.MethodGet, "/mrs/gitlab/"+url.PathEscape(project)+"/77", "")
	r.want(t, http.StatusOK, `<span class="badge queued">in its lanes</span>`, "&lt;b&gt;api&lt;/b&gt; change",
		"by alice; tested in its lanes first: <code>api</code>, <code>web</code>; passed in <code>web</code>")
}
