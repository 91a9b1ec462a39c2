package gitlab

import (
	"net/http"
	"strings"
)

// Route names the API endpoint r is for, as a template fit for a metric
// label: "GET /projects/:project/merge_requests/:iid". Only the words of
// GitLab's API survive; every other segment of the path (ids, project
// paths and branch names, which client-go escapes into one segment)
// becomes a placeholder named after the collection before it, or :id.
// Whatever the request, the template holds no value taken from it.
func Route(r *http.Request) string {
	path := r.URL.EscapedPath()
	if _, rest, ok := strings.Cut(path, "/api/v4/"); ok {
		path = rest
	}
	var b strings.Builder
	b.WriteString(method(r))
	b.WriteByte(' ')
	prev := ""
	for seg := range strings.SplitSeq(strings.Trim(path, "/"), "/") {
		if _, coll := params[seg]; coll || words[seg] || seg == "" {
			b.WriteString("/" + seg)
		} else if name, ok := params[prev]; ok {
			b.WriteString("/:" + name)
		} else {
			b.WriteString("/:id")
		}
		prev = seg
	}
	return b.String()
}

func method(r *http.Request) string {
	if r.Method == "" {
		return http.MethodGet
	}
	return r.Method
}

// params are the collections, kept as they are, and the name of the value
// that follows each.
var params = map[string]string{
	"projects":           "project",
	"groups":             "group",
	"merge_requests":     "iid",
	"issues":             "iid",
	"pipelines":          "pipeline",
	"jobs":               "job",
	"notes":              "note",
	"discussions":        "discussion",
	"branches":           "branch",
	"protected_branches": "branch",
	"tags":               "tag",
	"commits":            "sha",
	"statuses":           "sha",
	"users":              "user",
	"members":            "user",
	"all":                "user", // members/all/:user
	"approval_rules":     "rule",
	"variables":          "key",
}

// words are the other path segments of GitLab's API that are kept as
// they are.
var words = map[string]bool{
	"approval_state": true, "approvals": true, "cancel": true, "merge": true,
	"pipeline": true, "rebase": true, "repository": true, "retry": true,
	"user": true, "version": true,
}
