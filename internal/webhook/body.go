package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// bodyPool reuses request body buffers: at thousands of deliveries a second
// a fresh buffer per request is most of the garbage the listener makes. The
// decoders copy what they keep, so a buffer is free once the answer is known.
type bodyPool struct{ p sync.Pool }

// maxPooled keeps rare huge bodies from pinning their memory in the pool.
const maxPooled = 256 << 10

func (p *bodyPool) get() *bytes.Buffer {
	if b, ok := p.p.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (p *bodyPool) put(b *bytes.Buffer) {
	if b.Cap() > maxPooled {
		return
	}
	b.Reset()
	p.p.Put(b)
}

// readBody reads the request body into buf, at most h.maxBody bytes. The
// buffer grows with what arrives, never from Content-Length: a sender may
// claim megabytes and send them slowly, or never.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) (answer, bool) {
	if r.ContentLength > h.maxBody {
		return h.tooLarge(), false
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return h.tooLarge(), false
	case err != nil:
		return failure(http.StatusBadRequest, OutcomeBadRequest, fmt.Sprintf("read body: %v", err)), false
	}
	return answer{}, true
}

func (h *Handler) tooLarge() answer {
	return failure(http.StatusRequestEntityTooLarge, OutcomeTooLarge,
		fmt.Sprintf("body larger than %d bytes", h.maxBody))
}
