package fakeforge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// conditional serves a GET of the REST APIs as both forges do: a 200
// answer carries an ETag (the handler's, or a weak one of its body, as
// GitLab's Rack::ETag and GitHub's lists give), and a request whose
// If-None-Match names it is answered 304 Not Modified with no body.
// Other methods and answers pass as they are.
func conditional(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request)) {
	if r.Method != http.MethodGet {
		serve(w, r)
		return
	}
	b := &buffered{header: w.Header()}
	serve(b, r)
	status := b.status
	if status == 0 {
		status = http.StatusOK
	}
	h := w.Header()
	if status == http.StatusOK {
		etag := h.Get("ETag")
		if etag == "" {
			sum := sha256.Sum256(b.body.Bytes())
			etag = `W/"` + hex.EncodeToString(sum[:16]) + `"`
			h.Set("ETag", etag)
		}
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			h.Del("Content-Type")
			h.Del("Content-Length")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.WriteHeader(status)
	w.Write(b.body.Bytes())
}

// etagMatches compares weakly, as If-None-Match does: W/ prefixes do not
// count, and the header may list several tags or "*".
func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

// buffered holds an answer back until its ETag is known.
type buffered struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffered) Header() http.Header { return b.header }

func (b *buffered) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *buffered) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
