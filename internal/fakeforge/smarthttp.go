package fakeforge

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"path/filepath"
	"strings"

	"go.uber.org/zap"
)

// maxPushBody bounds a chunked push, which is buffered because CGI needs a
// Content-Length.
const maxPushBody = 256 << 20

// serveGit serves /<group>/<project>.git/... through git http-backend.
// Fetching needs any valid token; pushing needs Developer access. After a
// push the project's branches are rescanned, which is where MR heads move,
// MRs are found merged and push events are sent.
func (f *Forge) serveGit(w http.ResponseWriter, r *http.Request) {
	i := strings.Index(r.URL.Path, ".git/")
	projectPath := strings.Trim(r.URL.Path[:i], "/")
	u, ok := f.tokenUser(requestToken(r, true))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitLab"`)
		http.Error(w, "HTTP Basic: Access denied", http.StatusUnauthorized)
		return
	}
	push := isReceivePack(r)
	f.mu.Lock()
	p, err := f.st.project(projectPath)
	level := 0
	if err == nil {
		level = f.st.access(p, u)
	}
	f.mu.Unlock()
	if err != nil {
		http.Error(w, "The project you were looking for could not be found.", http.StatusNotFound)
		return
	}
	if push && level < Developer {
		http.Error(w, "You are not allowed to push code to this project.", http.StatusForbidden)
		return
	}
	if err := bufferChunked(r); err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	r.Header.Del("Authorization") // keep secrets out of the CGI environment
	r.Header.Del("PRIVATE-TOKEN")
	h := &cgi.Handler{
		Path: f.git,
		Args: []string{"http-backend"},
		Root: "/",
		Dir:  filepath.Join(f.opts.Dir, "repos"),
		Env: append(gitEnv(f.opts.Dir),
			"GIT_PROJECT_ROOT="+filepath.Join(f.opts.Dir, "repos"),
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER="+u.Username,
		),
		Logger: zap.NewStdLog(f.log),
		Stderr: zap.NewStdLog(f.log).Writer(),
	}
	h.ServeHTTP(w, r)
	if push && r.Method == http.MethodPost {
		if err := f.rescan(f.ctx, p, u); err != nil {
			f.log.Error("rescan after push", zap.String("project", p.Path), zap.Error(err))
		}
	}
}

func isReceivePack(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack"
}

// bufferChunked reads a chunked body into memory: net/http/cgi refuses
// chunked bodies, and git sends large pushes chunked.
func bufferChunked(r *http.Request) error {
	if r.ContentLength >= 0 || r.Body == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPushBody+1))
	if err != nil {
		return fmt.Errorf("read push body: %w", err)
	}
	if len(body) > maxPushBody {
		return fmt.Errorf("push body larger than %d bytes", maxPushBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	return nil
}
