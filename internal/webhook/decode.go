package webhook

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

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

// decodeFailure answers a payload the forge library would not decode. The
// event types are checked before decoding, so what is left is a payload
// that is not what its event type says: the sender's fault.
func decodeFailure(label string, err error) answer {
	return failure(http.StatusBadRequest, OutcomeBadRequest, fmt.Sprintf("malformed %s payload: %v", label, err))
}

// jsonObject refuses a payload that is not a JSON object: null decodes
// into an event of no kind, and an array or a string is no event either,
// which would be answered as an event not used instead of a bad request.
func jsonObject(payload []byte) error {
	if t := bytes.TrimSpace(payload); len(t) == 0 || t[0] != '{' {
		return errors.New("the payload is not a JSON object")
	}
	return nil
}

// secretMatch compares a presented secret with the expected one's SHA-256
// digest in constant time. Comparing digests keeps the time independent of
// the secret's length too, which subtle.ConstantTimeCompare alone leaks.
func secretMatch(presented string, want [sha256.Size]byte) bool {
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
