package fakeforge

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (f *Forge) createPipeline(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.projectFor(r, u, Developer)
	if err != nil {
		return err
	}
	var body struct {
		Ref       string `json:"ref"`
		Variables []struct {
			Key          string `json:"key"`
			Value        string `json:"value"`
			VariableType string `json:"variable_type"`
		} `json:"variables"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	ref := param(r, body.Ref, "ref")
	if ref == "" {
		return badRequest("400 Bad request - ref is missing")
	}
	sha, err := f.resolveRef(r, p, ref)
	if err != nil {
		return err
	}
	vars := make([]variable, 0, len(body.Variables))
	for _, v := range body.Variables {
		if v.VariableType == "" {
			v.VariableType = "env_var"
		}
		vars = append(vars, variable{Key: v.Key, Value: v.Value, Type: v.VariableType})
	}
	pl, err := f.startPipeline(r.Context(), p, u, ref, sha, "api", vars...)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusCreated, f.apiPipelineOf(&pl))
	return nil
}

// resolveRef finds the commit of a branch or tag, as pipelines run on refs.
func (f *Forge) resolveRef(r *http.Request, p *project, ref string) (string, error) {
	g := f.repo(p.Path)
	for _, full := range []string{"refs/heads/" + ref, "refs/tags/" + ref} {
		sha, err := g.resolve(r.Context(), full)
		if err != nil {
			return "", err
		}
		if sha != "" {
			return sha, nil
		}
	}
	return "", badRequest(map[string][]string{"base": {"Reference not found"}})
}

func (f *Forge) listPipelines(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.projectFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []apiPipelineInfo{}
	for _, pl := range f.projectPipelines(p) {
		if matches(q.Get("sha"), pl.SHA) && matches(q.Get("ref"), pl.Ref) &&
			matches(q.Get("status"), pl.Status) && matches(q.Get("source"), pl.Source) &&
			(q.Get("username") == "" || f.st.users[pl.UserID] != nil && f.st.users[pl.UserID].Username == q.Get("username")) {
			out = append(out, f.apiPipelineInfoOf(pl))
		}
	}
	if q.Get("sort") == "asc" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	writeJSON(w, http.StatusOK, paginate(w, r, out))
	return nil
}

func (f *Forge) pipelineFor(r *http.Request, u *user, level int) (*pipeline, error) {
	p, err := f.projectFor(r, u, level)
	if err != nil {
		return nil, err
	}
	id, err := pathInt(r, "pipeline_id")
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pl, ok := f.st.pipelines[id]
	if !ok || pl.ProjectID != p.ID {
		return nil, ErrNoPipeline
	}
	return pl, nil
}

func (f *Forge) getPipeline(w http.ResponseWriter, r *http.Request, u *user) error {
	pl, err := f.pipelineFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.apiPipelineOf(pl))
	return nil
}

func (f *Forge) cancelPipelineAPI(w http.ResponseWriter, r *http.Request, u *user) error {
	pl, err := f.pipelineFor(r, u, Developer)
	if err != nil {
		return err
	}
	f.cancelPipeline(r.Context(), pl.ID)
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, f.apiPipelineOf(pl))
	return nil
}

func (f *Forge) getBranch(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.projectFor(r, u, NoAccess)
	if err != nil {
		return err
	}
	name := r.PathValue("branch")
	sha, err := f.repo(p.Path).resolve(r.Context(), "refs/heads/"+name)
	if err != nil {
		return err
	}
	if sha == "" {
		return ErrNoBranch
	}
	info, err := f.commit(r.Context(), p.Path, sha)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	def := name == p.DefaultBranch
	writeJSON(w, http.StatusOK, apiBranch{
		Name: name, Protected: def, Default: def, CanPush: f.st.access(p, u) >= Developer,
		WebURL: f.projectURLs(p).web() + "/-/tree/" + name, Commit: apiCommitOf(info, f.projectURLs(p)),
	})
	return nil
}

// deleteBranch removes a branch; the default branch is protected.
func (f *Forge) deleteBranch(w http.ResponseWriter, r *http.Request, u *user) error {
	p, err := f.projectFor(r, u, Developer)
	if err != nil {
		return err
	}
	name := r.PathValue("branch")
	if name == p.DefaultBranch {
		return forbidden()
	}
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	g := f.repo(p.Path)
	sha, err := g.resolve(r.Context(), "refs/heads/"+name)
	if err != nil {
		return err
	}
	if sha == "" {
		return ErrNoBranch
	}
	if err := g.deleteRef(r.Context(), "refs/heads/"+name, sha); err != nil {
		return err
	}
	if err := f.rescanLocked(r.Context(), p, u); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Pagination as GitLab does it: page and per_page (default 20, at most
// 100), answered with X-Page, X-Next-Page, X-Total... and a Link header.
const (
	defaultPerPage = 20
	maxPerPage     = 100
)

func paginate[T any](w http.ResponseWriter, r *http.Request, items []T) []T {
	page := queryInt(r, "page", 1)
	per := min(queryInt(r, "per_page", defaultPerPage), maxPerPage)
	pages := max((len(items)+per-1)/per, 1)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Total", strconv.Itoa(len(items)))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Prev-Page", "")
	h.Set("X-Next-Page", "")
	var links []string
	if page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(page-1))
		links = append(links, pageLink(r, page-1, "prev"))
	}
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		links = append(links, pageLink(r, page+1, "next"))
	}
	links = append(links, pageLink(r, 1, "first"), pageLink(r, pages, "last"))
	h.Set("Link", strings.Join(links, ", "))
	start := min((page-1)*per, len(items))
	return items[start:min(start+per, len(items))]
}

func queryInt(r *http.Request, name string, def int) int {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || n < 1 {
		return def
	}
	return n
}

func pageLink(r *http.Request, page int, rel string) string {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page))
	u.RawQuery = q.Encode()
	return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
}
