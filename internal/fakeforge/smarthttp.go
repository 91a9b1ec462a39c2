package fakeforge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"path/filepath"
	"strings"

	"go.uber.org/zap"
)

// maxPushBody bounds a buffered request body: every push, whose options
// are read before git sees it, and any chunked body, as CGI needs a
// Content-Length.
const maxPushBody = 256 << 20

// errBodyTooLarge is bufferBody's error for a body over maxPushBody.
var errBodyTooLarge = fmt.Errorf("request body larger than %d bytes", maxPushBody)

// serveGit serves /<group>/<project>.git/... through git http-backend.
// Fetching needs any valid token; pushing needs Developer access. After a
// push the project's branches are rescanned, which is where MR heads move,
// MRs are found merged and push events are sent, and where the push's CI
// options decide its pipelines.
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
	pushPost := push && r.Method == http.MethodPost
	var req pushRequest
	if pushPost || r.ContentLength < 0 {
		body, err := bufferBody(r)
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, errBodyTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			http.Error(w, err.Error(), status)
			return
		}
		if pushPost {
			if req, err = parsePushRequest(body, r.Header.Get("Content-Encoding")); err != nil {
				// git http-backend rejects a request that is truly
				// malformed; one it takes is a push without options.
				f.log.Warn("read push options", zap.String("project", p.Path), zap.Error(err))
			}
		}
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
			// Advertise push-options, so git push -o works as against
			// GitLab. Given to the CGI rather than written to each
			// repository's config, it holds for repositories created
			// before it too.
			"GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=receive.advertisePushOptions",
			"GIT_CONFIG_VALUE_0=true",
		),
		Logger: zap.NewStdLog(f.log),
		Stderr: zap.NewStdLog(f.log).Writer(),
	}
	if pushPost {
		f.notePush(p, &req)
		defer f.forgetPush(p, &req)
	}
	h.ServeHTTP(w, r)
	if pushPost {
		if err := f.rescan(f.ctx, p, u); err != nil {
			f.log.Error("rescan after push", zap.String("project", p.Path), zap.Error(err))
		}
	}
}

func isReceivePack(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack"
}

// bufferBody reads r's body into memory, up to maxPushBody, and leaves r
// with the same bytes and their Content-Length: net/http/cgi refuses
// chunked bodies, git sends large pushes chunked, and a push's options are
// read before the CGI gets the body.
func bufferBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > maxPushBody {
		return nil, errBodyTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPushBody+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(body) > maxPushBody {
		return nil, errBodyTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	return body, nil
}
