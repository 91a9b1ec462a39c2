package gitops

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const testToken = "glpat-S3cretT0kenValue"

// newHTTPRemote serves a bare repository with git http-backend behind a
// check of the Basic auth header the mirror must send, and returns the
// repository path and its clone URL.
func newHTTPRemote(t *testing.T, user, token string) (string, string) {
	t.Helper()
	return newRotatingRemote(t, user, func() string { return token })
}

// newRotatingRemote is newHTTPRemote accepting whatever token current
// gives at the time of each request, as a forge accepts only the newest
// installation token.
func newRotatingRemote(t *testing.T, user string, current func() string) (string, string) {
	t.Helper()
	root := t.TempDir()
	remote := newBareRepo(t, filepath.Join(root, "group", "project.git"))
	testGit(t, remote, "", nil, "config", "http.receivepack", "true")
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("the git binary is required for these tests: %v", err)
	}
	backend := &cgi.Handler{
		Path: git, Args: []string{"http-backend"}, Root: "/git",
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+current())))
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return remote, srv.URL + "/git/group/project.git"
}

func TestTokenAuthOverHTTP(t *testing.T) {
	t.Parallel()
	remote, url := newHTTPRemote(t, "oauth2", testToken)
	shas := importCommits(t, remote, []seedCommit{
		{author: bob, msg: "Initial\n", files: map[string]string{"a.txt": "a\n"}, refs: []string{"refs/heads/main"}},
		{author: alice, msg: "Feature\n", files: map[string]string{"f.txt": "f\n"}, parents: []string{":1"},
			refs: []string{"refs/merge-requests/3/head"}},
	})
	ctx := context.Background()
	mirror := openMirror(t, url, func(o *Options) { o.Token = testToken })
	if head, err := mirror.FetchBranch(ctx, "main"); err != nil || head != shas[0] {
		t.Fatalf("fetch main over HTTP = %q, %v; want %s", head, err, shas[0])
	}
	if head, err := mirror.FetchMR(ctx, "refs/merge-requests/3/head"); err != nil || head != shas[1] {
		t.Fatalf("fetch MR over HTTP = %q, %v; want %s", head, err, shas[1])
	}
	res, err := mirror.Build(ctx, BuildRequest{Base: shas[0], Head: shas[1], SourceBranch: "f", TargetBranch: "main", Time: testTime})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if _, err := mirror.PushCar(ctx, CarRef("", "main", 3), res.Commit); err != nil {
		t.Fatalf("push car over HTTP: %v", err)
	}
	if ff, err := mirror.FastForward(ctx, "main", shas[0], res.Commit); err != nil || ff != (FFResult{Head: res.Commit}) {
		t.Fatalf("fast-forward over HTTP = %+v, %v", ff, err)
	}
	if got := remoteHead(t, remote, "refs/heads/main"); got != res.Commit {
		t.Errorf("remote main = %s, want %s", got, res.Commit)
	}

	// git echoes the missing ref name: a token there must come out scrubbed.
	_, err = mirror.FetchBranch(ctx, testToken)
	if !errors.Is(err, ErrRefNotFound) || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("fetch of a branch named like the token: err = %v, want ErrRefNotFound with the name redacted", err)
	}
	assertNoSecret(t, err.Error(), testToken)
	assertNoSecretInDir(t, mirror.Dir(), testToken)
}

func TestWrongTokenIsRefused(t *testing.T) {
	t.Parallel()
	remote, url := newHTTPRemote(t, "oauth2", testToken)
	importCommits(t, remote, []seedCommit{{author: bob, msg: "Initial\n", files: map[string]string{"a.txt": "a\n"}, refs: []string{"refs/heads/main"}}})
	for name, token := range map[string]string{"wrong token": "glpat-Wr0ngT0kenValue", "no token": ""} {
		mirror := openMirror(t, url, func(o *Options) { o.Token = token })
		_, err := mirror.FetchBranch(context.Background(), "main")
		if err == nil || errors.Is(err, ErrRefNotFound) {
			t.Errorf("%s: fetch err = %v, want an authentication failure", name, err)
			continue
		}
		if token != "" {
			assertNoSecret(t, err.Error(), token)
			assertNoSecretInDir(t, mirror.Dir(), token)
		}
	}
}

func TestGitHubTokenUser(t *testing.T) {
	t.Parallel()
	remote, url := newHTTPRemote(t, "x-access-token", testToken)
	want := importCommits(t, remote, []seedCommit{{author: bob, msg: "Initial\n", files: map[string]string{"a.txt": "a\n"}, refs: []string{"refs/heads/main"}}})[0]
	mirror := openMirror(t, url, func(o *Options) { o.Token, o.TokenUser = testToken, "x-access-token" })
	if got, err := mirror.FetchBranch(context.Background(), "main"); err != nil || got != want {
		t.Errorf("fetch with x-access-token = %q, %v; want %s", got, err, want)
	}
}

func assertNoSecret(t *testing.T, s, token string) {
	t.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte("oauth2:" + token))
	if strings.Contains(s, token) || strings.Contains(s, basic) {
		t.Errorf("secret leaked in %q", s)
	}
}

// assertNoSecretInDir reads every file of the mirror, objects included.
func assertNoSecretInDir(t *testing.T, dir, token string) {
	t.Helper()
	basic := []byte(base64.StdEncoding.EncodeToString([]byte("oauth2:" + token)))
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(data, []byte(token)) || bytes.Contains(data, basic) {
			t.Errorf("secret written to %s", path)
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walk %s: %d files, %v", dir, files, err)
	}
}

// A token source is asked before every fetch and push, so a renewed
// installation token is used as soon as the forge stops taking the old
// one, and neither ever shows in an error.
func TestTokenSourceFollowsRenewedTokens(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	token := "ghs_F1rstInstallat1onT0ken"
	current := func() string {
		mu.Lock()
		defer mu.Unlock()
		return token
	}
	remote, url := newRotatingRemote(t, "x-access-token", current)
	want := importCommits(t, remote, []seedCommit{{author: bob, msg: "Initial\n", files: map[string]string{"a.txt": "a\n"}, refs: []string{"refs/heads/main"}}})[0]
	asked := 0
	mirror := openMirror(t, url, func(o *Options) {
		o.TokenUser = "x-access-token"
		o.TokenSource = func(context.Context) (string, error) { asked++; return current(), nil }
	})
	ctx := context.Background()
	first := current()
	if got, err := mirror.FetchBranch(ctx, "main"); err != nil || got != want {
		t.Fatalf("fetch with the first token = %q, %v", got, err)
	}
	mu.Lock()
	token = "ghs_Sec0ndInstallat1onT0ken"
	mu.Unlock()
	if got, err := mirror.FetchBranch(ctx, "main"); err != nil || got != want {
		t.Fatalf("fetch with the renewed token = %q, %v", got, err)
	}
	if asked != 2 {
		t.Errorf("the token source was asked %d times for two fetches", asked)
	}
	_, err := mirror.FetchBranch(ctx, first+"-"+current())
	if err == nil {
		t.Fatal("fetch of a missing branch succeeded")
	}
	for _, tok := range []string{first, current()} {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("token %s leaked in %q", tok, err)
		}
	}
}

func TestTokenSourceFailureStopsTheCall(t *testing.T) {
	t.Parallel()
	_, url := newHTTPRemote(t, "x-access-token", testToken)
	mirror := openMirror(t, url, func(o *Options) {
		o.TokenSource = func(context.Context) (string, error) {
			return "", errors.New("installation token: 401 Bad credentials")
		}
	})
	_, err := mirror.FetchBranch(context.Background(), "main")
	if err == nil || !strings.Contains(err.Error(), "installation token: 401 Bad credentials") {
		t.Fatalf("fetch err = %v, want the token source's error", err)
	}
}
