package fakeforge

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Both APIs answer a GET with an ETag of what they answered, and a
// conditional GET naming it with 304 and no body, until the resource
// changes; other methods and answers carry none.
func TestConditionalGETs(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	ctx := context.Background()
	for name, api := range map[string]struct {
		path, auth, value string
	}{
		"gitlab": {"/api/v4/projects/acme%2Fwidgets/merge_requests/1", "Private-Token", botToken},
		"github": {"/api/v3/repos/acme/widgets/pulls/1", "Authorization", "token " + botToken},
	} {
		t.Run(name, func(t *testing.T) {
			get := func(method, path, ifNoneMatch string) (int, string, string) {
				t.Helper()
				req, _ := http.NewRequest(method, f.URL()+path, nil)
				req.Header.Set(api.auth, api.value)
				if ifNoneMatch != "" {
					req.Header.Set("If-None-Match", ifNoneMatch)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, resp.Header.Get("ETag"), string(b)
			}
			status, etag, body := get(http.MethodGet, api.path, "")
			if status != http.StatusOK || !strings.HasPrefix(etag, `W/"`) || body == "" {
				t.Fatalf("first GET: %d %q %q", status, etag, body)
			}
			if status, again, body := get(http.MethodGet, api.path, etag); status != http.StatusNotModified || again != etag || body != "" {
				t.Fatalf("GET with its ETag: %d %q %q", status, again, body)
			}
			if status, _, _ := get(http.MethodGet, api.path, `W/"other"`); status != http.StatusOK {
				t.Fatalf("GET with another ETag: %d", status)
			}
			if status, etag, _ := get(http.MethodGet, api.path+"99", etag); status != http.StatusNotFound || etag != "" {
				t.Fatalf("GET of a missing MR: %d, ETag %q", status, etag)
			}
			if _, err := f.PushToMR(ctx, project1, mr.IID, Commit{Files: map[string]string{name: name}}); err != nil {
				t.Fatal(err)
			}
			status, changed, body := get(http.MethodGet, api.path, etag)
			if status != http.StatusOK || changed == etag || body == "" {
				t.Fatalf("after a push: %d %q %q", status, changed, body)
			}
		})
	}
	// Writes are never conditional.
	req, _ := http.NewRequest(http.MethodPost, f.URL()+"/api/v4/projects/acme%2Fwidgets/merge_requests/1/notes?body=hi", nil)
	req.Header.Set("Private-Token", botToken)
	req.Header.Set("If-None-Match", "*")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("ETag") != "" {
		t.Fatalf("POST: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
}
