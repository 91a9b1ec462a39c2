package github

import (
	"net/http"
	"strings"
)

// Route names the API endpoint r is for, as a template fit for a metric
// label: "PATCH /repos/:owner/:repo/git/refs/heads/:branch", and
// "POST /graphql" for every GraphQL query. Only the words of GitHub's
// API survive: after /repos come :owner and :repo, and any other run of
// segments that are not words (numbers, SHAs, branch names with their
// slashes) becomes one placeholder named after the word before it, or
// :id. Whatever the request, the template holds no value taken from it.
func Route(r *http.Request) string {
	path := r.URL.EscapedPath()
	if _, rest, ok := strings.Cut(path, "/api/v3/"); ok {
		path = rest // GitHub Enterprise Server
	} else if strings.HasSuffix(path, "/api/graphql") {
		path = "graphql"
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	var b strings.Builder
	b.WriteString(method + " ")
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i < len(segs); i++ {
		seg := segs[i]
		if isWord(seg) || seg == "" {
			b.WriteString("/" + seg)
			if seg == "repos" && i+2 < len(segs) {
				// Whatever they are called, words included.
				b.WriteString("/:owner/:repo")
				i += 2
			}
			continue
		}
		name := "id"
		if i > 0 && params[segs[i-1]] != "" {
			name = params[segs[i-1]]
		}
		b.WriteString("/:" + name)
		for i+1 < len(segs) && !isWord(segs[i+1]) {
			i++ // a value in several segments is one placeholder
		}
	}
	return b.String()
}

func isWord(seg string) bool {
	_, coll := params[seg]
	return coll || words[seg]
}

// params are the collections, kept as they are, and the name of the value
// that follows each.
var params = map[string]string{
	"pulls":         "number",
	"issues":        "number",
	"comments":      "comment",
	"reviews":       "review",
	"heads":         "branch",
	"tags":          "tag",
	"branches":      "branch",
	"commits":       "ref",
	"statuses":      "ref",
	"check-runs":    "check_run",
	"runs":          "run",
	"jobs":          "job",
	"workflows":     "workflow",
	"collaborators": "user",
	"users":         "user",
	"user":          "id",
	"installations": "installation",
}

// words are the other path segments of GitHub's API that are kept as
// they are.
var words = map[string]bool{
	"repos": true, "git": true, "ref": true, "refs": true, "status": true,
	"actions": true, "cancel": true, "rerun-failed-jobs": true, "dispatches": true,
	"permission": true, "rules": true, "protection": true, "app": true,
	"access_tokens": true, "graphql": true, "merge": true,
}
