package fakeforge

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// The control API over HTTP: the operations of control.go and
// mrcontrol.go, for people and scripts driving a forge that runs as its
// own process (docs/playground.md). Every endpoint calls the Go method
// tests use, so both send the same webhooks; this file only decodes,
// validates and answers. The control token is the only credential it
// accepts: forge users' tokens cannot act as other people.

// MinControlTokenLen is the shortest control token accepted: the token
// lets its holder act as anyone, so a guessable one is refused.
const MinControlTokenLen = 16

// maxControlBody bounds a request body, files of a commit included.
const maxControlBody = 1 << 20

// finishWait bounds how long finishing a pipeline waits for its runner to
// record the status, so the answer can show the final pipeline.
const finishWait = 5 * time.Second

// control serves the control API with one token.
type control struct {
	f     *Forge
	token []byte
	mux   *http.ServeMux
}

// ControlHandler returns the control API, served under ControlPrefix and
// guarded by token. StartWithControl serves it with the forge; the
// handler is for mounting it elsewhere.
func (f *Forge) ControlHandler(token string) (http.Handler, error) {
	if len(token) < MinControlTokenLen {
		return nil, fmt.Errorf("fakeforge control API: token must have at least %d characters", MinControlTokenLen)
	}
	c := &control{f: f, token: []byte(token), mux: http.NewServeMux()}
	c.routes()
	return c, nil
}

// StartWithControl is Start, with the control API served under
// ControlPrefix on the same address.
func (f *Forge) StartWithControl(ctx context.Context, token string) error {
	h, err := f.ControlHandler(token)
	if err != nil {
		return err
	}
	return f.startWith(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ControlPrefix || strings.HasPrefix(r.URL.Path, ControlPrefix+"/") {
			h.ServeHTTP(w, r)
			return
		}
		f.ServeHTTP(w, r)
	}))
}

// startWith listens and serves h (the forge itself, or a handler that
// hands what is not its own to it), runs the webhook deliveries, and
// makes the configured projects.
func (f *Forge) startWith(ctx context.Context, h http.Handler) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", f.opts.Addr)
	if err != nil {
		return fmt.Errorf("fakeforge: listen on %s: %w", f.opts.Addr, err)
	}
	f.ln = ln
	f.baseURL = "http://" + ln.Addr().String()
	f.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		if err := f.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.log.Error("serve", zap.Error(err))
		}
	}()
	go func() {
		defer f.wg.Done()
		f.hooks.run(f.ctx)
	}()
	f.log.Info("listening", zap.String("url", f.baseURL))
	for _, spec := range f.opts.Projects {
		if err := f.createFromSpec(ctx, spec); err != nil {
			f.Close()
			return err
		}
	}
	return nil
}

// controlFunc handles one endpoint: it returns the status and the value
// to answer with, or an error that says what went wrong.
type controlFunc func(r *http.Request) (int, any, error)

func (c *control) routes() {
	handle := func(pattern string, h controlFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		c.mux.HandleFunc(method+" "+ControlPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			status, v, err := h(r)
			if err != nil {
				c.writeError(w, r, err)
				return
			}
			writeJSON(w, status, v)
		})
	}
	handle("GET /projects", c.listProjects)
	handle("POST /projects", c.createProject)
	handle("GET /projects/{project}", c.getProject)
	handle("POST /users", c.createUser)
	handle("PUT /projects/{project}/members/{username}", c.setAccess)
	handle("GET /projects/{project}/mrs", c.listMRs)
	handle("POST /projects/{project}/mrs", c.openMR)
	handle("GET /projects/{project}/mrs/{iid}", c.getMR)
	handle("GET /projects/{project}/mrs/{iid}/comments", c.listComments)
	handle("POST /projects/{project}/mrs/{iid}/comments", c.comment)
	handle("POST /projects/{project}/mrs/{iid}/approve", c.approve)
	handle("POST /projects/{project}/mrs/{iid}/reviews", c.review)
	handle("POST /projects/{project}/commits/{sha}/check-runs", c.checkRun)
	handle("GET /projects/{project}/commits/{sha}/statuses", c.commitStatuses)
	handle("POST /projects/{project}/mrs/{iid}/push", c.pushMR)
	handle("POST /projects/{project}/push", c.pushBranch)
	handle("GET /projects/{project}/pipelines", c.listPipelines)
	handle("POST /projects/{project}/pipelines/{id}/finish", c.finishPipeline)
	// Anything else under the prefix, a known path with another method
	// included, is answered here rather than by the mux's plain text.
	c.mux.HandleFunc(ControlPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("no control endpoint %s %s", r.Method, r.URL.Path))
	})
}

// ServeHTTP checks the control token, then routes. Nothing is routed,
// not even a 404, for a caller without the token.
func (c *control) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(requestToken(r, false)), c.token) != 1 {
		writeMessage(w, http.StatusUnauthorized, "401 Unauthorized: send the control token as Authorization: Bearer TOKEN")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// controlError is an answer other than success, with what the caller
// reads.
type controlError struct {
	status int
	msg    string
}

func (e *controlError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &controlError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &controlError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &controlError{http.StatusConflict, fmt.Sprintf(format, args...)}
}

// writeError answers err. Errors the control methods return for a
// missing record are 404; anything not foreseen is logged and answered
// without its text, which may name files of the forge.
func (c *control) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *controlError
	switch {
	case errors.As(err, &ce):
		writeMessage(w, ce.status, ce.msg)
	case errors.Is(err, ErrNoProject), errors.Is(err, ErrNoMR), errors.Is(err, ErrNoPipeline), errors.Is(err, ErrNoBranch):
		writeMessage(w, http.StatusNotFound, err.Error())
	case errors.Is(err, errMRNotOpen), errors.Is(err, errNotModified):
		writeMessage(w, http.StatusConflict, err.Error())
	default:
		c.f.log.Error("control api", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		writeMessage(w, http.StatusInternalServerError, "500 Internal Server Error: see the forge's log")
	}
}

// decode reads the body, at most maxControlBody bytes of exactly one JSON
// object with no unknown field, into v.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil {
		return badInput("read body: %v", err)
	}
	if len(body) > maxControlBody {
		return &controlError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxControlBody)}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badInput("body is empty: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badInput("body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badInput("body: want one JSON object, found more after it")
	}
	return nil
}

// jsonProblem says what is wrong with a body in the request's terms, not
// in the Go types it is decoded into.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %s: want %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("want a JSON object, not %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "not valid JSON: it ends too early"
	}
	// The remaining decoder errors ("json: unknown field \"x\"") say it
	// plainly already.
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return goKind
}

// project resolves the {project} of the path: an id, or a path sent
// URL-encoded (acme%2Fwidgets) as GitLab's API takes it.
func (c *control) project(r *http.Request) (Project, error) {
	ref := r.PathValue("project")
	if ref == "" || len(ref) > maxPathLen {
		return Project{}, badInput("project %q: want an id or a group/name path", ref)
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	p, err := c.f.st.project(ref)
	if err != nil {
		return Project{}, notFound("project %s not found", ref)
	}
	return Project{ID: p.ID, Path: p.Path, DefaultBranch: p.DefaultBranch}, nil
}

// mr resolves {project} and {iid}.
func (c *control) mr(r *http.Request) (Project, MR, error) {
	p, err := c.project(r)
	if err != nil {
		return Project{}, MR{}, err
	}
	iid, err := positive("merge request iid", r.PathValue("iid"))
	if err != nil {
		return Project{}, MR{}, err
	}
	m, err := c.f.MR(p.Path, iid)
	if err != nil {
		return Project{}, MR{}, notFound("merge request !%d of %s not found", iid, p.Path)
	}
	return p, m, nil
}

func (c *control) projectOf(p Project) ControlProject {
	return ControlProject{ID: p.ID, Path: p.Path, DefaultBranch: p.DefaultBranch, CloneURL: c.f.CloneURL(p.Path)}
}

func controlMROf(m MR) ControlMR {
	return ControlMR{
		ID: m.ID, IID: m.IID, Project: m.Project, Title: m.Title, SourceBranch: m.Source, TargetBranch: m.Target,
		State: m.State, Draft: m.Draft, SHA: m.SHA, Author: m.Author, MergeCommitSHA: m.MergeCommitSHA,
		MergedAt: m.MergedAt, ClosedAt: m.ClosedAt,
	}
}

func controlPipelineOf(pl Pipeline) ControlPipeline {
	return ControlPipeline{
		ID: pl.ID, IID: pl.IID, Project: pl.Project, Ref: pl.Ref, SHA: pl.SHA, Status: pl.Status, Source: pl.Source,
		User: pl.User, Variables: pl.Variables, CreatedAt: pl.CreatedAt, StartedAt: pl.StartedAt, FinishedAt: pl.FinishedAt,
	}
}

func controlNoteOf(n Note) ControlNote {
	return ControlNote{ID: n.ID, Author: n.Author, Body: n.Body, CreatedAt: n.CreatedAt}
}

// Projects lists the forge's projects, oldest first.
func (f *Forge) Projects() []Project {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Project, 0, len(f.st.projects))
	for _, p := range f.st.projects {
		out = append(out, Project{ID: p.ID, Path: p.Path, DefaultBranch: p.DefaultBranch})
	}
	slices.SortFunc(out, func(a, b Project) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (c *control) listProjects(*http.Request) (int, any, error) {
	out := []ControlProject{}
	for _, p := range c.f.Projects() {
		out = append(out, c.projectOf(p))
	}
	return http.StatusOK, out, nil
}

func (c *control) getProject(r *http.Request) (int, any, error) {
	p, err := c.project(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, c.projectOf(p), nil
}

func (c *control) createProject(r *http.Request) (int, any, error) {
	var req CreateProjectRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := validProjectPath(req.Path); err != nil {
		return 0, nil, err
	}
	if err := validFiles("files", req.Files, nil); err != nil {
		return 0, nil, err
	}
	levels := map[string]int{}
	for name, role := range req.Members {
		if err := validUsername("members: username", name); err != nil {
			return 0, nil, err
		}
		level, err := accessLevel(role)
		if err != nil {
			return 0, nil, badInput("members: %s: %v", name, err)
		}
		levels[name] = level
	}
	if c.projectExists(req.Path) {
		return 0, nil, conflict("project %s already exists", req.Path)
	}
	p, err := c.f.CreateProject(r.Context(), req.Path, req.Files)
	if err != nil {
		if c.projectExists(req.Path) { // created meanwhile by another request
			return 0, nil, conflict("project %s already exists", req.Path)
		}
		return 0, nil, err
	}
	for name, level := range levels {
		if err := c.f.SetAccess(p.Path, name, level); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusCreated, c.projectOf(p), nil
}

func (c *control) projectExists(path string) bool {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	_, ok := c.f.st.byPath[path]
	return ok
}

func (c *control) createUser(r *http.Request) (int, any, error) {
	var req CreateUserRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := validUsername("username", req.Username); err != nil {
		return 0, nil, err
	}
	if req.Token != "" {
		if err := validToken(req.Token); err != nil {
			return 0, nil, err
		}
		if subtle.ConstantTimeCompare([]byte(req.Token), c.token) == 1 {
			return 0, nil, badInput("token: must not be the control token")
		}
	}
	u, created, err := c.addUser(req.Username, req.Token)
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return status, ControlUser{ID: u.ID, Username: u.Username, Admin: u.Admin}, nil
}

// addUser is AddUser and AddToken in one step under the lock, so a token
// that names another user is refused rather than taken from them (it may
// be the bot's).
func (c *control) addUser(username, token string) (User, bool, error) {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	_, existed := f.st.usersByName[username]
	if id, ok := f.st.tokens[token]; token != "" && ok && f.st.users[id].Username != username {
		return User{}, false, conflict("token: already belongs to another user")
	}
	u := f.st.addUser(username, false, f.opts.Now())
	if token != "" {
		f.st.tokens[token] = u.ID
	}
	return User{ID: u.ID, Username: u.Username, Admin: u.Admin}, !existed, nil
}

func (c *control) setAccess(r *http.Request) (int, any, error) {
	p, err := c.project(r)
	if err != nil {
		return 0, nil, err
	}
	name := r.PathValue("username")
	if err := validUsername("username", name); err != nil {
		return 0, nil, err
	}
	var req SetAccessRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	level, err := accessLevel(req.Access)
	if err != nil {
		return 0, nil, badInput("access: %v", err)
	}
	if err := c.f.SetAccess(p.Path, name, level); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, ControlMember{Project: p.Path, Username: name, Access: level, Role: roleName(level)}, nil
}

func (c *control) listMRs(r *http.Request) (int, any, error) {
	p, err := c.project(r)
	if err != nil {
		return 0, nil, err
	}
	state := r.URL.Query().Get("state")
	if state != "" && state != StateOpened && state != StateClosed && state != StateMerged {
		return 0, nil, badInput("state %q: want opened, closed or merged", state)
	}
	mrs, err := c.f.MRs(p.Path)
	if err != nil {
		return 0, nil, err
	}
	out := []ControlMR{}
	for _, m := range mrs {
		if state == "" || m.State == state {
			out = append(out, controlMROf(m))
		}
	}
	return http.StatusOK, out, nil
}

func (c *control) getMR(r *http.Request) (int, any, error) {
	_, m, err := c.mr(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, controlMROf(m), nil
}

func (c *control) listComments(r *http.Request) (int, any, error) {
	p, m, err := c.mr(r)
	if err != nil {
		return 0, nil, err
	}
	notes, err := c.f.Notes(p.Path, m.IID)
	if err != nil {
		return 0, nil, err
	}
	out := []ControlNote{}
	for _, n := range notes {
		out = append(out, controlNoteOf(n))
	}
	return http.StatusOK, out, nil
}

func (c *control) comment(r *http.Request) (int, any, error) {
	p, m, err := c.mr(r)
	if err != nil {
		return 0, nil, err
	}
	var req CommentRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := validUsername("author", req.Author); err != nil {
		return 0, nil, err
	}
	if strings.TrimSpace(req.Body) == "" {
		return 0, nil, badInput("body: is empty")
	}
	n, err := c.f.AddNote(r.Context(), p.Path, m.IID, req.Author, req.Body)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, controlNoteOf(n), nil
}

func (c *control) approve(r *http.Request) (int, any, error) {
	p, m, err := c.mr(r)
	if err != nil {
		return 0, nil, err
	}
	var req ApproveRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := validUsername("user", req.User); err != nil {
		return 0, nil, err
	}
	if err := c.f.Approve(r.Context(), p.Path, m.IID, req.User); err != nil {
		switch {
		case errors.Is(err, errNotModified):
			return 0, nil, conflict("%s has approved !%d already", req.User, m.IID)
		case errors.Is(err, errMRNotOpen):
			return 0, nil, conflict("merge request !%d is %s", m.IID, m.State)
		}
		return 0, nil, err
	}
	m, err = c.f.MR(p.Path, m.IID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, controlMROf(m), nil
}

func (c *control) listPipelines(r *http.Request) (int, any, error) {
	p, err := c.project(r)
	if err != nil {
		return 0, nil, err
	}
	status := r.URL.Query().Get("status")
	if status != "" && !isPipelineStatus(status) {
		return 0, nil, badInput("status %q: want pending, running, success, failed or canceled", status)
	}
	pls, err := c.f.Pipelines(p.Path)
	if err != nil {
		return 0, nil, err
	}
	out := []ControlPipeline{}
	for _, pl := range pls {
		if status == "" || pl.Status == status {
			out = append(out, controlPipelineOf(pl))
		}
	}
	return http.StatusOK, out, nil
}

func isPipelineStatus(s string) bool {
	switch s {
	case PipelinePending, PipelineRunning, PipelineSuccess, PipelineFailed, PipelineCanceled:
		return true
	}
	return false
}

// finishPipeline ends a pipeline and answers once its runner has recorded
// the status (and queued its webhook), or 202 if that takes longer than
// finishWait.
func (c *control) finishPipeline(r *http.Request) (int, any, error) {
	p, err := c.project(r)
	if err != nil {
		return 0, nil, err
	}
	id, err := positive("pipeline id", r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	var req FinishPipelineRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Status != PipelineSuccess && req.Status != PipelineFailed && req.Status != PipelineCanceled {
		return 0, nil, badInput("status %q: want success, failed or canceled", req.Status)
	}
	pl, ok := c.pipeline(p, id)
	if !ok {
		return 0, nil, notFound("pipeline %d of %s not found", id, p.Path)
	}
	if err := c.f.FinishPipeline(r.Context(), id, req.Status); err != nil {
		if errors.Is(err, ErrNoPipeline) {
			return 0, nil, notFound("pipeline %d of %s not found", id, p.Path)
		}
		return 0, nil, conflict("pipeline %d is %s, and finished or being finished already", id, pl.Status)
	}
	ctx, cancel := context.WithTimeout(r.Context(), finishWait)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		pl, _ = c.pipeline(p, id)
		if pl.Status == req.Status {
			return http.StatusOK, controlPipelineOf(pl), nil
		}
		select {
		case <-ctx.Done():
			return http.StatusAccepted, controlPipelineOf(pl), nil
		case <-tick.C:
		}
	}
}

// pipeline finds pipeline id of project p.
func (c *control) pipeline(p Project, id int64) (Pipeline, bool) {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	pl, ok := f.st.pipelines[id]
	if !ok || pl.ProjectID != p.ID {
		return Pipeline{}, false
	}
	return f.pipelineOf(pl), true
}
