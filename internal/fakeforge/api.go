package fakeforge

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
)

const apiPrefix = "/api/v4"

// apiHandler serves one REST route for an authenticated user.
type apiHandler func(w http.ResponseWriter, r *http.Request, u *user) error

type userKey struct{}

// apiError is an answer other than success that GitLab would give.
type apiError struct {
	status int
	msg    any
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %v", e.status, e.msg) }

func forbidden() error { return &apiError{http.StatusForbidden, "403 Forbidden"} }

func badRequest(msg any) error { return &apiError{http.StatusBadRequest, msg} }

func (f *Forge) routes() *http.ServeMux {
	m := http.NewServeMux()
	handle := func(pattern string, h apiHandler) {
		method, path, _ := strings.Cut(pattern, " ")
		m.HandleFunc(method+" "+apiPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			u := r.Context().Value(userKey{}).(*user)
			if err := h(w, r, u); err != nil {
				f.writeError(w, r, err)
			}
		})
	}
	handle("GET /user", f.getCurrentUser)
	handle("GET /users", f.listUsers)
	handle("GET /projects/{id}", f.getProject)
	handle("GET /projects/{id}/members/all/{user_id}", f.getMember)
	handle("GET /projects/{id}/merge_requests", f.listMRs)
	handle("GET /projects/{id}/merge_requests/{iid}", f.getMR)
	handle("PUT /projects/{id}/merge_requests/{iid}", f.updateMR)
	handle("GET /projects/{id}/merge_requests/{iid}/notes", f.listNotes)
	handle("POST /projects/{id}/merge_requests/{iid}/notes", f.createNote)
	handle("PUT /projects/{id}/merge_requests/{iid}/notes/{note_id}", f.updateNote)
	handle("GET /projects/{id}/merge_requests/{iid}/approvals", f.getApprovals)
	handle("GET /projects/{id}/merge_requests/{iid}/approval_state", f.getApprovalState)
	handle("POST /projects/{id}/merge_requests/{iid}/approve", f.approveMR)
	handle("POST /projects/{id}/merge_requests/{iid}/unapprove", f.unapproveMR)
	handle("GET /projects/{id}/merge_requests/{iid}/discussions", f.listDiscussions)
	handle("GET /projects/{id}/merge_requests/{iid}/discussions/{discussion_id}", f.getDiscussion)
	handle("PUT /projects/{id}/merge_requests/{iid}/discussions/{discussion_id}", f.resolveDiscussion)
	handle("POST /projects/{id}/pipeline", f.createPipeline)
	handle("GET /projects/{id}/pipelines", f.listPipelines)
	handle("GET /projects/{id}/pipelines/{pipeline_id}", f.getPipeline)
	handle("POST /projects/{id}/pipelines/{pipeline_id}/cancel", f.cancelPipelineAPI)
	handle("GET /projects/{id}/repository/branches/{branch}", f.getBranch)
	handle("DELETE /projects/{id}/repository/branches/{branch}", f.deleteBranch)
	handle("POST /projects/{id}/statuses/{sha}", f.setCommitStatus)
	handle("GET /projects/{id}/repository/commits/{sha}/statuses", f.listCommitStatuses)
	return m
}

// serveAPI counts the call, injects faults, authenticates, and routes.
func (f *Forge) serveAPI(w http.ResponseWriter, r *http.Request) {
	_, pattern := f.api.Handler(r)
	route := strings.Replace(pattern, apiPrefix, "", 1)
	if pattern == "" {
		route = r.Method + " (unknown)"
	}
	f.calls.call(route)
	if f.injectFault(w, r) {
		return
	}
	u, ok := f.tokenUser(requestToken(r, false))
	if !ok {
		writeMessage(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	if pattern == "" {
		writeMessage(w, http.StatusNotFound, "404 Not found")
		return
	}
	f.api.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
}

func (f *Forge) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		writeMessage(w, ae.status, ae.msg)
	case errors.Is(err, ErrNoProject):
		writeMessage(w, http.StatusNotFound, "404 Project Not Found")
	case errors.Is(err, ErrNoBranch):
		writeMessage(w, http.StatusNotFound, "404 Branch Not Found")
	case errors.Is(err, ErrNoUser), errors.Is(err, ErrNoMR), errors.Is(err, ErrNoPipeline),
		errors.Is(err, errNoNote), errors.Is(err, errNoDiscussion):
		writeMessage(w, http.StatusNotFound, "404 Not found")
	default:
		f.log.Error("api", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		writeMessage(w, http.StatusInternalServerError, "500 Internal Server Error")
	}
}

func writeMessage(w http.ResponseWriter, status int, msg any) {
	writeJSON(w, status, map[string]any{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"message":"500 Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// decodeBody reads a JSON or form body into the fields GitLab accepts.
func decodeBody(r *http.Request, v any) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		return nil
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return badRequest("400 Bad request - " + err.Error())
	}
	return nil
}

// param reads a request field from the body (already decoded into body),
// the query or a form.
func param(r *http.Request, fromBody string, name string) string {
	if fromBody != "" {
		return fromBody
	}
	return r.FormValue(name)
}

func pathInt(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil {
		return 0, badRequest(fmt.Sprintf("400 Bad request - %s is invalid", name))
	}
	return n, nil
}

// projectFor resolves {id} and checks u has at least level on it.
func (f *Forge) projectFor(r *http.Request, u *user, level int) (*project, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if f.st.access(p, u) < level {
		return nil, forbidden()
	}
	return p, nil
}

func (f *Forge) getCurrentUser(w http.ResponseWriter, r *http.Request, u *user) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.apiUserDetailOf(u))
	return nil
}

func (f *Forge) apiUserDetailOf(u *user) apiUserDetail {
	return apiUserDetail{apiUser: f.apiUserOf(u), CreatedAt: apiTime(u.Created), IsAdmin: u.Admin}
}

func (f *Forge) listUsers(w http.ResponseWriter, r *http.Request, _ *user) error {
	name := r.URL.Query().Get("username")
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []apiUserDetail{}
	if name != "" {
		if u, ok := f.st.usersByName[name]; ok {
			out = append(out, f.apiUserDetailOf(u))
		}
	} else {
		for id := int64(1); id <= f.st.lastID; id++ {
			if u, ok := f.st.users[id]; ok {
				out = append(out, f.apiUserDetailOf(u))
			}
		}
	}
	writeJSON(w, http.StatusOK, paginate(w, r, out))
	return nil
}

func (f *Forge) getProject(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.projectFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.apiProjectOf(p))
	return nil
}

func (f *Forge) getMember(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.projectFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	id, err := pathInt(r, "user_id")
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	member, ok := f.st.users[id]
	level := p.members[id]
	if !ok || level == NoAccess {
		return ErrNoUser
	}
	writeJSON(w, http.StatusOK, apiMember{
		apiUser: f.apiUserOf(member), AccessLevel: level, CreatedAt: apiTime(p.Created), MembershipState: "active",
	})
	return nil
}

func (f *Forge) listMRs(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.projectFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	order, err := listOrderOf(q)
	if err != nil {
		return err
	}
	after, err := queryTime(q, "updated_after")
	if err != nil {
		return err
	}
	before, err := queryTime(q, "updated_before")
	if err != nil {
		return err
	}
	state := q.Get("state")
	f.mu.Lock()
	defer f.mu.Unlock()
	var mrs []*mergeRequest
	for _, m := range p.sortedMRs() {
		// GitLab's bounds are inclusive: updated_at >= updated_after.
		if (state == "" || state == "all" || state == m.State) &&
			matches(q.Get("source_branch"), m.Source) && matches(q.Get("target_branch"), m.Target) &&
			(after.IsZero() || !m.Updated.Before(after)) && (before.IsZero() || !m.Updated.After(before)) {
			mrs = append(mrs, m)
		}
	}
	sortListed(order, mrs, func(m *mergeRequest) (time.Time, time.Time, int64) { return m.Created, m.Updated, m.ID })
	out := make([]apiMR, 0, len(mrs))
	for _, m := range mrs {
		out = append(out, f.apiMROf(p, m))
	}
	writeJSON(w, http.StatusOK, paginate(w, r, out))
	return nil
}

// listOrder is the order_by and sort of a GitLab list: created_at and
// desc unless asked otherwise; ties go by id, in the same direction.
type listOrder struct{ byUpdated, asc bool }

func listOrderOf(q url.Values) (listOrder, error) {
	var o listOrder
	switch q.Get("order_by") {
	case "", "created_at":
	case "updated_at":
		o.byUpdated = true
	default:
		return o, badRequest("400 Bad request - order_by does not have a valid value")
	}
	switch q.Get("sort") {
	case "", "desc":
	case "asc":
		o.asc = true
	default:
		return o, badRequest("400 Bad request - sort does not have a valid value")
	}
	return o, nil
}

func sortListed[T any](o listOrder, items []T, key func(T) (created, updated time.Time, id int64)) {
	slices.SortStableFunc(items, func(a, b T) int {
		ca, ua, ia := key(a)
		cb, ub, ib := key(b)
		ta, tb := ca, cb
		if o.byUpdated {
			ta, tb = ua, ub
		}
		c := ta.Compare(tb)
		if c == 0 {
			c = cmp.Compare(ia, ib)
		}
		if !o.asc {
			c = -c
		}
		return c
	})
}

func queryTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badRequest("400 Bad request - " + name + " is invalid")
	}
	return t, nil
}

func matches(filter, v string) bool { return filter == "" || filter == v }

func (f *Forge) mrFor(r *http.Request, u *user) (*project, *mergeRequest, error) {
	p, err := f.projectFor(r, u, NoAccess)
	if err != nil {
		return nil, nil, err
	}
	iid, err := pathInt(r, "iid")
	if err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := p.mrs[iid]
	if !ok {
		return nil, nil, ErrNoMR
	}
	return p, m, nil
}

func (f *Forge) getMR(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.apiMROf(p, m))
	readMR(m)
	return nil
}

// updateMR supports the one edit a merge train makes: state_event=close
// (and reopen). Closing a closed MR changes nothing, as on GitLab.
func (f *Forge) updateMR(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	var body struct {
		StateEvent string `json:"state_event"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	switch event := param(r, body.StateEvent, "state_event"); event {
	case "close":
		f.mu.Lock()
		open := m.State == StateOpened
		f.mu.Unlock()
		if open {
			if err := f.CloseMR(r.Context(), p.Path, m.IID, u.Username); err != nil {
				return err
			}
		}
	case "":
	default:
		return badRequest(map[string]any{"state_event": []string{"does not have a valid value"}})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.apiMROf(p, m))
	return nil
}

// listNotes lists every note, GitLab's system notes included, newest
// first by created_at unless order_by and sort say otherwise.
func (f *Forge) listNotes(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	order, err := listOrderOf(r.URL.Query())
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	notes := slices.Concat(m.notes, m.system)
	sortListed(order, notes, func(n *note) (time.Time, time.Time, int64) { return n.Created, n.Updated, n.ID })
	out := make([]any, 0, len(notes))
	for _, n := range notes {
		out = append(out, f.apiNoteOf(p, m, n))
	}
	writeJSON(w, http.StatusOK, paginate(w, r, out))
	return nil
}

func (f *Forge) createNote(w http.ResponseWriter, r *http.Request, u *user) error {
	p, m, err := f.mrFor(r, u)
	if err != nil {
		return err
	}
	text, err := noteBody(r)
	if err != nil {
		return err
	}
	n, err := f.addNote(r.Context(), p, m.IID, u, text)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusCreated, f.apiNoteOf(p, m, &n))
	return nil
}

// noteBody reads the body a note is created or edited with; GitLab refuses
// an empty one.
func noteBody(r *http.Request) (string, error) {
	var body struct {
		Body string `json:"body"`
	}
	if err := decodeBody(r, &body); err != nil {
		return "", err
	}
	text := param(r, body.Body, "body")
	switch {
	case strings.TrimSpace(text) == "":
		return "", badRequest("400 Bad request - body is missing")
	case utf8.RuneCountInString(text) > glMaxNote:
		return "", badRequest(map[string][]string{"note": {fmt.Sprintf("is too long (maximum is %d characters)", glMaxNote)}})
	}
	return text, nil
}

// glMaxNote is the most characters GitLab takes in a note.
const glMaxNote = 1_000_000
