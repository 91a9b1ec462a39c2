package fakeforge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"
)

// ghPrefix is where the GitHub REST v3 API lives, as on GitHub Enterprise
// Server; go-github's WithEnterpriseURLs and ghinstallation both accept it.
const ghPrefix = "/api/v3"

// ghDocs is the documentation_url of GitHub's error answers.
const ghDocs = "https://docs.github.com/rest"

// ghSecondaryDocs is the documentation_url GitHub gives a secondary rate
// limit; go-github recognises the answer by it.
const ghSecondaryDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"

// appKey carries the verified GitHub App of a JWT-authenticated request.
type appKey struct{}

func (f *Forge) ghRoutes() *http.ServeMux {
	m := http.NewServeMux()
	handle := func(pattern string, h apiHandler) {
		method, path, _ := strings.Cut(pattern, " ")
		m.HandleFunc(method+" "+ghPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			u, _ := r.Context().Value(userKey{}).(*user)
			if err := h(w, r, u); err != nil {
				f.writeGHError(w, r, err)
			}
		})
	}
	handle("POST /app/installations/{installation_id}/access_tokens", f.ghCreateInstallationToken)
	handle("GET /app", f.ghGetApp)
	handle("GET /user", f.ghCurrentUser)
	handle("GET /user/{account_id}", f.ghUserByID)
	handle("GET /users/{username}", f.ghUserByLogin)
	handle("GET /repos/{owner}/{repo}", f.ghGetRepo)
	handle("GET /repos/{owner}/{repo}/collaborators/{username}/permission", f.ghPermission)
	handle("GET /repos/{owner}/{repo}/pulls", f.ghListPulls)
	handle("GET /repos/{owner}/{repo}/pulls/{pull_number}", f.ghGetPull)
	handle("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", f.ghUpdatePull)
	handle("GET /repos/{owner}/{repo}/issues/comments", f.ghListRepoComments)
	handle("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", f.ghListComments)
	handle("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", f.ghCreateComment)
	handle("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", f.ghEditComment)
	handle("POST /repos/{owner}/{repo}/check-runs", f.ghCreateCheckRun)
	handle("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", f.ghUpdateCheckRun)
	handle("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", f.ghListReviews)
	handle("POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews", f.ghCreateReview)
	handle("GET /repos/{owner}/{repo}/branches/{branch}", f.ghGetBranch)
	handle("GET /repos/{owner}/{repo}/branches/{branch}/protection", f.ghGetProtection)
	handle("GET /repos/{owner}/{repo}/rules/branches/{branch...}", f.ghRulesForBranch)
	handle("GET /repos/{owner}/{repo}/git/ref/{ref...}", f.ghGetRef)
	handle("PATCH /repos/{owner}/{repo}/git/refs/{ref...}", f.ghUpdateRef)
	handle("GET /repos/{owner}/{repo}/commits/{ref}", f.ghGetCommit)
	handle("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", f.ghListCheckRuns)
	handle("GET /repos/{owner}/{repo}/commits/{ref}/status", f.ghCombinedStatus)
	handle("GET /repos/{owner}/{repo}/commits/{ref}/statuses", f.ghListStatuses)
	handle("POST /repos/{owner}/{repo}/statuses/{sha}", f.ghCreateStatus)
	handle("GET /repos/{owner}/{repo}/actions/runs", f.ghListWorkflowRuns)
	handle("GET /repos/{owner}/{repo}/actions/runs/{run_id}", f.ghGetWorkflowRun)
	handle("POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel", f.ghCancelWorkflowRun)
	handle("POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs", f.ghRerunFailedJobs)
	handle("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", f.ghDispatchWorkflow)
	// GraphQL is beside the REST API, not under it, as on GitHub
	// Enterprise Server; serveGitHub authenticates it the same way.
	m.HandleFunc("POST "+ghGraphQLPath, f.ghGraphQL())
	return m
}

// serveGitHub counts the call, injects faults, authenticates, and routes
// REST and GraphQL requests alike.
// App endpoints take the app's JWT; everything else a personal or
// installation token.
func (f *Forge) serveGitHub(w http.ResponseWriter, r *http.Request) {
	_, pattern := f.gh.Handler(r)
	route := strings.Replace(pattern, ghPrefix, "", 1)
	if pattern == "" {
		route = r.Method + " (unknown)"
	}
	f.calls.call(route)
	if f.injectGHFault(w, r) {
		return
	}
	ctx := r.Context()
	if strings.HasPrefix(route, "POST /app/") || route == "GET /app" {
		if err := f.verifyAppJWT(bearer(r)); err != nil {
			f.log.Debug("app JWT refused", zap.Error(err))
			writeGH(w, http.StatusUnauthorized, ghMessage{Message: "A JSON web token could not be decoded", DocumentationURL: ghDocs})
			return
		}
		ctx = context.WithValue(ctx, appKey{}, true)
	} else {
		u, ok := f.tokenUser(requestToken(r, false))
		if !ok {
			writeGH(w, http.StatusUnauthorized, ghMessage{Message: "Bad credentials", DocumentationURL: ghDocs})
			return
		}
		ctx = context.WithValue(ctx, userKey{}, u)
	}
	if pattern == "" {
		writeGH(w, http.StatusNotFound, ghMessage{Message: "Not Found", DocumentationURL: ghDocs})
		return
	}
	f.gh.ServeHTTP(w, r.WithContext(ctx))
}

// bearer is the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	t, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(t)
}

// ghMessage is the body of GitHub's error answers.
type ghMessage struct {
	Message string `json:"message"`
	// Errors are field errors (ghFieldError), or plain sentences.
	Errors           []any  `json:"errors,omitempty"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status,omitempty"`
}

type ghFieldError struct {
	Resource string `json:"resource"`
	Field    string `json:"field"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

// ghMaxComment is the most characters GitHub takes in a comment's body.
const ghMaxComment = 65536

// ghCommentBody checks a comment's body as GitHub does on create and edit.
func ghCommentBody(body string) error {
	switch {
	case strings.TrimSpace(body) == "":
		return ghUnprocessable("Validation Failed", ghFieldError{Resource: "IssueComment", Field: "body", Code: "missing_field"})
	case utf8.RuneCountInString(body) > ghMaxComment:
		return ghUnprocessable("Validation Failed", ghFieldError{Resource: "IssueComment", Field: "data", Code: "unprocessable",
			Message: fmt.Sprintf("Body is too long (maximum is %d characters)", ghMaxComment)})
	}
	return nil
}

// ghError is an answer other than success that GitHub would give.
type ghError struct {
	status int
	body   ghMessage
}

func (e *ghError) Error() string {
	msg := fmt.Sprintf("%d %s", e.status, e.body.Message)
	for _, x := range e.body.Errors {
		if s, ok := x.(string); ok {
			msg += ": " + s
		}
	}
	return msg
}

func ghForbidden() error {
	return &ghError{http.StatusForbidden, ghMessage{Message: "Resource not accessible by personal access token", DocumentationURL: ghDocs}}
}

func ghUnprocessable(msg string, errs ...ghFieldError) error {
	var list []any
	for _, e := range errs {
		list = append(list, e)
	}
	return &ghError{http.StatusUnprocessableEntity, ghMessage{Message: msg, Errors: list, DocumentationURL: ghDocs}}
}

// ghRefused is GitHub's 422 for a request it understood and will not
// do, with the reason as a sentence ("Can not approve your own pull
// request").
func ghRefused(reasons ...string) error {
	var list []any
	for _, r := range reasons {
		list = append(list, r)
	}
	return &ghError{http.StatusUnprocessableEntity, ghMessage{Message: "Unprocessable Entity", Errors: list, DocumentationURL: ghDocs}}
}

func ghConflict(msg string) error {
	return &ghError{http.StatusConflict, ghMessage{Message: msg, DocumentationURL: ghDocs}}
}

func (f *Forge) writeGHError(w http.ResponseWriter, r *http.Request, err error) {
	var ge *ghError
	switch {
	case errors.As(err, &ge):
		writeGH(w, ge.status, ge.body)
	case errors.Is(err, ErrNoProject), errors.Is(err, ErrNoMR), errors.Is(err, ErrNoUser),
		errors.Is(err, ErrNoBranch), errors.Is(err, ErrNoRun):
		writeGH(w, http.StatusNotFound, ghMessage{Message: "Not Found", DocumentationURL: ghDocs})
	default:
		f.log.Error("github api", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		writeGH(w, http.StatusInternalServerError, ghMessage{Message: "Server Error", DocumentationURL: ghDocs})
	}
}

func writeGH(w http.ResponseWriter, status int, v any) {
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	writeJSON(w, status, v)
}

// ghRepoFor resolves {owner}/{repo} and checks u has at least level on it.
func (f *Forge) ghRepoFor(r *http.Request, u *user, level int) (*project, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, err := f.st.project(r.PathValue("owner") + "/" + r.PathValue("repo"))
	if err != nil {
		return nil, err
	}
	if f.st.access(p, u) < level {
		return nil, ghForbidden()
	}
	return p, nil
}

// ghPaginate answers one page of items with GitHub's Link header: page
// and per_page (default 30, at most 100), next and last only when there
// are more, prev and first only after the first page.
func ghPaginate[T any](w http.ResponseWriter, r *http.Request, items []T) []T {
	page := queryInt(r, "page", 1)
	per := min(queryInt(r, "per_page", 30), maxPerPage)
	pages := max((len(items)+per-1)/per, 1)
	var links []string
	if page < pages {
		links = append(links, pageLink(r, page+1, "next"), pageLink(r, pages, "last"))
	}
	if page > 1 {
		links = append(links, pageLink(r, page-1, "prev"), pageLink(r, 1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := min((page-1)*per, len(items))
	return items[start:min(start+per, len(items))]
}
