package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/api/apitest"
)

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// call makes a request to the env's API; token "" sends none.
func call(t *testing.T, e *apitest.Env, method, path, token, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.Ctx, method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// want checks the status and that the body is exactly the JSON wantJSON
// (same keys, same values; order and spacing aside).
func (r reply) want(t *testing.T, status int, wantJSON string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	var got, want any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.body)
	}
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatalf("bad expectation: %v: %s", err, wantJSON)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body\n%s\nwant\n%s", r.body, compact(wantJSON))
	}
}

// wantError checks an error answer.
func (r reply) wantError(t *testing.T, status int, msg string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"error": msg})
	r.want(t, status, string(b))
}

func compact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}
