package loadtest

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

// arrivals remembers when the first webhook telling that a commit's
// pipeline (GitHub: its check run, suite or workflow run) succeeded
// reached a replica.
type arrivals struct {
	mu sync.Mutex
	at map[[2]string]time.Time // project, sha
}

// successEvent is the part of GitLab's Pipeline Hook and of GitHub's check
// and workflow events that tells a success and of which commit.
type successEvent struct {
	ObjectAttributes struct {
		Status string `json:"status"`
		SHA    string `json:"sha"`
	} `json:"object_attributes"`
	Project struct {
		Path string `json:"path_with_namespace"`
	} `json:"project"`
	Action     string   `json:"action"`
	CheckRun   *ghCheck `json:"check_run"`
	CheckSuite *ghCheck `json:"check_suite"`
	Workflow   *ghCheck `json:"workflow_run"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

type ghCheck struct {
	HeadSHA    string `json:"head_sha"`
	Conclusion string `json:"conclusion"`
}

// note records a delivery that arrived at t if it tells a success.
func (a *arrivals) note(h http.Header, body []byte, t time.Time) {
	event := h.Get("X-Gitlab-Event") + h.Get("X-GitHub-Event")
	switch event {
	case fakeforge.EventPipeline, fakeforge.GHEventCheckRun, fakeforge.GHEventCheckSuite, fakeforge.GHEventWorkflowRun:
	default:
		return
	}
	var ev successEvent
	if json.Unmarshal(body, &ev) != nil {
		return
	}
	project, sha := ev.Project.Path, ev.ObjectAttributes.SHA
	if ev.ObjectAttributes.Status != fakeforge.PipelineSuccess {
		sha = ""
	}
	for _, c := range []*ghCheck{ev.CheckRun, ev.CheckSuite, ev.Workflow} {
		if c != nil && ev.Action == "completed" && c.Conclusion == fakeforge.ConclusionSuccess {
			project, sha = ev.Repository.FullName, c.HeadSHA
		}
	}
	if sha == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := [2]string{project, sha}
	if _, ok := a.at[k]; !ok {
		if a.at == nil {
			a.at = map[[2]string]time.Time{}
		}
		a.at[k] = t
	}
}

// of is when the first success webhook for sha of project arrived.
func (a *arrivals) of(project, sha string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[[2]string{project, sha}]
	return t, ok
}
