package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/trainyard/trainyard/internal/event"
)

// normalised is a decoded delivery: the event to queue, or why none is.
type normalised struct {
	ev     event.Event
	ignore string // non-empty: the delivery is not used, for this reason
}

func use(ev event.Event) normalised { return normalised{ev: ev} }

func skip(format string, args ...any) normalised {
	return normalised{ignore: fmt.Sprintf(format, args...)}
}

// decodeFailure answers a payload the forge library would not decode. Bad
// JSON is the sender's fault (400). Anything else the library refuses, such
// as a kind of note it does not know yet, is a genuine delivery we cannot
// use: it is ignored, because an error status would make GitLab disable the
// hook over events we never needed.
func decodeFailure(label string, err error) answer {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		clock  *time.ParseError
	)
	if errors.As(err, &syntax) || errors.As(err, &typ) || errors.As(err, &clock) || errors.Is(err, io.ErrUnexpectedEOF) {
		return failure(http.StatusBadRequest, OutcomeBadRequest, fmt.Sprintf("malformed %s payload: %v", label, err))
	}
	return ignored(fmt.Sprintf("%s payload not used: %v", label, err))
}

// secretMatch compares a presented secret with the expected one's SHA-256
// digest in constant time. Comparing digests keeps the time independent of
// the secret's length too, which subtle.ConstantTimeCompare alone leaks.
func secretMatch(presented string, want [sha256.Size]byte) bool {
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
