package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trainyard/trainyard/internal/app"
	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// running is a started App: its listeners' addresses, its log, and the
// way to stop it.
type running struct {
	t       *testing.T
	addr    string // the main listener
	metrics string // the metrics listener, if any
	logs    *observer.ObservedLogs
	stop    func() error
}

// start builds the service from yaml (data_dir and the API token added)
// and runs it until the test ends.
func start(t *testing.T, yaml string) *running {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml+fmt.Sprintf("\ndata_dir: %q\n", t.TempDir())), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	addrs, metricsAddrs := make(chan net.Addr, 1), make(chan net.Addr, 1)
	a, err := app.New(cfg, zap.New(core), app.WithConfigPath("test.yaml"),
		app.OnListen(func(a net.Addr) { addrs <- a }), app.OnMetricsListen(func(a net.Addr) { metricsAddrs <- a }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	r := &running{t: t, logs: logs, stop: func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(app.Grace + 5*time.Second):
			return fmt.Errorf("Run did not return after the stop")
		}
	}}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	})
	select {
	case addr := <-addrs:
		r.addr = addr.String()
	case err := <-done:
		t.Fatalf("Run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the service did not listen")
	}
	if cfg.MetricsListen != "" {
		r.metrics = (<-metricsAddrs).String()
	}
	return r
}

// get fetches path from addr and returns the status and body.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", addr, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// startRedisOn runs a redis-server on port until the test ends.
func startRedisOn(t *testing.T, port string) {
	t.Helper()
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// forgeStub answers every forge request with an empty list, so that a
// configured project's start-up reads find nothing to do.
func forgeStub(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "[]")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// With Redis down the listener opens all the same: health answers, and
// readiness says why it is not ready until Redis comes up; then the
// workers start.
func TestRunServesHealthBeforeRedisAndBecomesReady(t *testing.T) {
	port := freePort(t)
	r := start(t, fmt.Sprintf("listen: 127.0.0.1:0\nredis: {url: \"redis://127.0.0.1:%s/0\", prefix: ty}\nui: {enabled: false}", port))

	serving := r.logs.FilterMessage("trainyard serving").All()
	if len(serving) != 1 || serving[0].ContextMap()["listen"] != r.addr {
		t.Fatalf("serving logged %v, want once with the bound address %s", serving, r.addr)
	}
	if code, body := get(t, r.addr, "/healthz"); code != http.StatusOK || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Fatalf("healthz = %d %s", code, body)
	}
	code, body := get(t, r.addr, "/readyz")
	var ready map[string]string
	if err := json.Unmarshal([]byte(body), &ready); err != nil || code != http.StatusServiceUnavailable ||
		ready["status"] != "unavailable" || ready["reason"] != "redis unreachable" {
		t.Fatalf("readyz before Redis = %d %s", code, body)
	}
	waitFor(t, "the wait for Redis to be logged", 10*time.Second, func() bool {
		return r.logs.FilterMessage("waiting for redis: not ready until it answers").Len() > 0
	})

	startRedisOn(t, port)
	waitFor(t, "readiness", 30*time.Second, func() bool {
		code, _ := get(t, r.addr, "/readyz")
		return code == http.StatusOK
	})
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port})
	defer rdb.Close()
	waitFor(t, "the workers' consumer group", 10*time.Second, func() bool {
		groups, err := rdb.XInfoGroups(context.Background(), "ty:events").Result()
		return err == nil && len(groups) == 1 && groups[0].Name == "trainyard"
	})
	if r.logs.FilterMessage("redis answers").Len() != 1 {
		t.Fatalf("Redis coming up was not logged: %v", r.logs.All())
	}
	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// A stop while Redis is still awaited ends Run cleanly.
func TestRunStopsWhileWaitingForRedis(t *testing.T) {
	r := start(t, fmt.Sprintf("listen: 127.0.0.1:0\nredis: {url: \"redis://127.0.0.1:%s/0\"}", freePort(t)))
	if code, _ := get(t, r.addr, "/healthz"); code != http.StatusOK {
		t.Fatalf("healthz = %d", code)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("stop while waiting for Redis: %v", err)
	}
	if _, err := http.Get("http://" + r.addr + "/healthz"); err == nil {
		t.Fatal("the listener still answers after the stop")
	}
}

func TestMetricsOnTheMainListenerByDefault(t *testing.T) {
	r := start(t, fmt.Sprintf("listen: 127.0.0.1:0\nredis: {url: %q}\nui: {enabled: false}", redistest.URL(t)))
	code, body := get(t, r.addr, "/metrics")
	if code != http.StatusOK || !strings.Contains(body, "trainyard_build_info{") {
		t.Fatalf("/metrics = %d, want 200 with trainyard_build_info", code)
	}
}

// With reads private, /metrics on the main listener names no train to
// anyone without a token: it takes the API's tokens, of either role.
func TestMetricsNeedATokenWhereReadsArePrivate(t *testing.T) {
	const token = "read-token-of-a-good-length-0001"
	r := start(t, fmt.Sprintf("listen: 127.0.0.1:0\nredis: {url: %q}\nui: {enabled: false}\napi: {protect_reads: true, tokens: [{name: prom, role: read, token: %s}]}",
		redistest.URL(t), token))
	if code, body := get(t, r.addr, "/metrics"); code != http.StatusUnauthorized || strings.Contains(body, "trainyard_") {
		t.Fatalf("/metrics without a token = %d %q, want 401 and no metric", code, body)
	}
	for _, c := range []struct {
		token string
		code  int
	}{{"not-the-token-of-a-good-length-01", http.StatusUnauthorized}, {token, http.StatusOK}} {
		req, err := http.NewRequest(http.MethodGet, "http://"+r.addr+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || (c.code == http.StatusOK) != strings.Contains(string(body), "trainyard_build_info{") {
			t.Fatalf("/metrics with token %q = %d, want %d", c.token, resp.StatusCode, c.code)
		}
	}
}

// With metrics_listen, /metrics moves there, and health answers on both.
func TestMetricsListen(t *testing.T) {
	r := start(t, fmt.Sprintf("listen: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\nredis: {url: %q}\nui: {enabled: false}", redistest.URL(t)))
	if r.metrics == "" || r.metrics == r.addr {
		t.Fatalf("metrics listener %q beside %q", r.metrics, r.addr)
	}
	serving := r.logs.FilterMessage("trainyard serving").All()
	if len(serving) != 1 || serving[0].ContextMap()["metrics_listen"] != r.metrics {
		t.Fatalf("serving logged %v, want the metrics address %s", serving, r.metrics)
	}
	waitFor(t, "readiness", 10*time.Second, func() bool {
		code, _ := get(t, r.addr, "/readyz")
		return code == http.StatusOK
	})
	for _, c := range []struct {
		addr, path string
		code       int
		has        string
	}{
		{r.metrics, "/metrics", http.StatusOK, "trainyard_build_info{"},
		{r.metrics, "/healthz", http.StatusOK, `"ok"`},
		{r.metrics, "/readyz", http.StatusOK, `"ready"`},
		{r.metrics, "/api/v1/trains", http.StatusNotFound, ""},
		{r.metrics, "/webhooks/gitlab", http.StatusNotFound, ""},
		{r.addr, "/metrics", http.StatusNotFound, ""},
		{r.addr, "/healthz", http.StatusOK, `"ok"`},
		{r.addr, "/readyz", http.StatusOK, `"ready"`},
		{r.addr, "/api/v1/trains", http.StatusOK, ""},
	} {
		code, body := get(t, c.addr, c.path)
		if code != c.code || !strings.Contains(body, c.has) {
			t.Errorf("GET %s on %s = %d %q, want %d with %q", c.path, c.addr, code, body, c.code, c.has)
		}
	}
}

// Every configured train known at start has its series from the first
// scrape: those stored in Redis and those of branches named in the
// configuration. Other trains get none.
func TestTrainSeriesExistFromTheStart(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	st := store.New(rdb, store.Options{Prefix: prefix})
	ctx := context.Background()
	stored := train.New(train.Key{Forge: "gitlab", Project: "Group/App", Branch: "release/1"}, train.Settings{})
	stored.Cars = []train.Car{{MR: 4, State: train.StateQueued}, {MR: 5, State: train.StateRunning}}
	unconfigured := train.New(train.Key{Forge: "gitlab", Project: "other/app", Branch: "main"}, train.Settings{})
	// A lane's train counts as its target's: shown where the target is.
	lane := train.New(train.Key{Forge: "gitlab", Project: "group/app", Branch: "trainyard-lanes/main/ui"}, train.Settings{})
	lane.Cars = []train.Car{{MR: 6, State: train.StateRunning}}
	otherLane := train.New(train.Key{Forge: "gitlab", Project: "other/app", Branch: "trainyard-lanes/main/ui"}, train.Settings{})
	for _, tr := range []train.Train{stored, unconfigured, lane, otherLane} {
		if _, err := st.Save(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	forgeURL := forgeStub(t)
	r := start(t, fmt.Sprintf(`listen: 127.0.0.1:0
redis: {url: %q, prefix: %q}
sweep_interval: 1h
ui: {enabled: false}
gitlab: {url: %q, token: glpat-test, webhook_secret: 0123456789abcdef}
projects:
  - {forge: gitlab, path: group/app, branches: [main, release/*]}
`, url, prefix, forgeURL))
	wants := []string{
		`trainyard_merged_total{train="gitlab:Group/App:release/1"} 0`,
		`trainyard_merged_total{train="gitlab:group/app:main"} 0`,
		`trainyard_pipelines_started_total{train="gitlab:group/app:main"} 0`,
		`trainyard_evictions_total{reason="timeout",train="gitlab:group/app:main"} 0`,
		`trainyard_time_to_merge_seconds_count{train="gitlab:group/app:main"} 0`,
		`trainyard_cars{state="queued",train="gitlab:Group/App:release/1"} 1`,
		`trainyard_cars{state="running",train="gitlab:Group/App:release/1"} 1`,
		`trainyard_cars{state="queued",train="gitlab:group/app:main"} 0`,
		`trainyard_train_paused{train="gitlab:group/app:main"} 0`,
		`trainyard_cars{state="running",train="gitlab:group/app:trainyard-lanes/main/ui"} 1`,
		`trainyard_merged_total{train="gitlab:group/app:trainyard-lanes/main/ui"} 0`,
	}
	has := func(body, want string) bool { return strings.Contains(body, want+"\n") }
	// The series of one train after another come as the start-up makes
	// them: a scrape may come between two trains.
	var body string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		var code int
		code, body = get(t, r.addr, "/metrics")
		if code == http.StatusOK && !slices.ContainsFunc(wants, func(w string) bool { return !has(body, w) }) {
			break
		}
	}
	for _, want := range wants {
		if !has(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, not := range []string{"other/app", `train="gitlab:group/app:release/1"`} {
		if strings.Contains(body, not) {
			t.Errorf("/metrics has a series of %s", not)
		}
	}
	// The serving line says what runs, from which file, for which projects.
	serving := r.logs.FilterMessage("trainyard serving").All()
	if len(serving) != 1 {
		t.Fatalf("serving logged %d times", len(serving))
	}
	m := serving[0].ContextMap()
	if m["config"] != "test.yaml" || m["version"] == "" || fmt.Sprint(m["projects"]) != "[gitlab:group/app]" {
		t.Errorf("serving logged %v, want the config file, a version and the projects", m)
	}
}

// A configuration without projects runs nothing: the log says so, naming
// the file.
func TestNoProjectsIsWarnedAbout(t *testing.T) {
	r := start(t, fmt.Sprintf("listen: 127.0.0.1:0\nredis: {url: %q}", redistest.URL(t)))
	warned := r.logs.FilterMessage("no projects configured: no train will run").All()
	if len(warned) != 1 || warned[0].Level != zapcore.WarnLevel || warned[0].ContextMap()["config"] != "test.yaml" {
		t.Fatalf("warnings %v, want one naming test.yaml", warned)
	}
}

func TestRedisLogger(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	l := app.NewRedisLogger(zap.New(core).Named("redis"))
	l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v\n", 5, "connection refused")
	all := logs.All()
	if len(all) != 1 {
		t.Fatalf("%d entries, want 1", len(all))
	}
	e := all[0]
	if e.Level != zapcore.WarnLevel || e.LoggerName != "redis" ||
		e.Message != "connection pool: failed to dial after 5 attempts: connection refused" {
		t.Fatalf("entry = %s %q %q", e.Level, e.LoggerName, e.Message)
	}
}
