package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/pkg/api"
	"github.com/trainyard/trainyard/pkg/client"
)

// syncBuffer is the demo's output, read while the demo writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitOutput waits until out matches re, failing if the demo ends first.
func waitOutput(t *testing.T, out *syncBuffer, re *regexp.Regexp, ended <-chan struct{}) []string {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		select {
		case <-ended:
			t.Fatalf("the demo ended before printing %s:\n%s", re, out.String())
		case <-deadline:
			t.Fatalf("no %s in a minute:\n%s", re, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var (
	servedAt = regexp.MustCompile(`export TRAINYARD_SERVER=(http://\S+) TRAINYARD_TOKEN=(\S+)\n` +
		`  export FAKEFORGE_URL=(http://\S+) FAKEFORGE_TOKEN=(\S+)\n`)
	dashboardLine = regexp.MustCompile(`(?m)^  dashboard +(http://\S+)/ `)
)

// After the scripted train the whole system stays up: the dashboard shows
// the train, the forge takes a new MR from its control API, the API's
// token adds it, and the train merges it; cancelling stops it all.
func TestServeKeepsTheSystemUpUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := Defaults()
	o.MRs, o.FailRate, o.ConflictRate = 3, 0, 0
	o.CIDuration = 50 * time.Millisecond
	o.Serve, o.Listen = true, "127.0.0.1:0"
	out := &syncBuffer{}
	ended := make(chan struct{})
	var s Summary
	var runErr error
	go func() {
		defer close(ended)
		s, runErr = Run(ctx, o, out)
	}()

	m := waitOutput(t, out, servedAt, ended)
	server, token, forgeURL, controlToken := m[1], m[2], m[3], m[4]
	if d := dashboardLine.FindStringSubmatch(out.String()); d == nil || d[1] != server {
		t.Errorf("the dashboard line does not name %s:\n%s", server, out.String())
	}
	if !regexp.MustCompile(`\n3 merged, 0 evicted, `).MatchString(out.String()) {
		t.Fatalf("the scripted train did not merge its 3 MRs:\n%s", out.String())
	}

	index := get(t, server+"/")
	trainPage := "/trains/gitlab/demo%2Fapp/main"
	if !strings.Contains(index, `href="`+trainPage+`"`) {
		t.Errorf("the dashboard does not list the demo's train:\n%s", index)
	}
	page := get(t, server+trainPage)
	if n := strings.Count(page, `<span class="badge merged">`); n != 3 || !strings.Contains(page, "Add feature 3") {
		t.Errorf("the train's page shows %d merged MRs, want 3 with Add feature 3:\n%s", n, page)
	}

	ff := fakeforge.NewControlClient(forgeURL, controlToken, nil)
	var mr fakeforge.ControlMR
	if err := ff.Do(ctx, http.MethodPost, fakeforge.ProjectPath(project)+"/mrs", fakeforge.OpenMRRequest{
		Source: "by-hand", Author: author, Title: "Opened by hand", Files: map[string]string{"hand.txt": "1\n"},
	}, &mr); err != nil {
		t.Fatalf("open an MR through the control API: %v", err)
	}
	if mr.IID != 4 {
		t.Fatalf("the MR opened by hand is !%d, want !4", mr.IID)
	}
	if _, err := client.New(server, "not-the-token-0123456789").Add(ctx, ForgeGitLab, project, 4, api.MRRequest{}); !client.IsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("adding with a wrong token: %v, want 401", err)
	}
	if _, err := client.New(server, token).Add(ctx, ForgeGitLab, project, 4, api.MRRequest{}); err != nil {
		t.Fatalf("add !4 with the printed token: %v", err)
	}
	waitOutput(t, out, regexp.MustCompile(`main moves \w+ -> \w+, merging !4\n`), ended)

	cancel()
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop within 30s of its context ending")
	}
	if runErr != nil || s.Merged != 3 {
		t.Fatalf("demo: %v, %d merged", runErr, s.Merged)
	}
	for _, u := range []string{server + "/", forgeURL + fakeforge.ControlPrefix + "/projects"} {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers after the demo stopped", u)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}
