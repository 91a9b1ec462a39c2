package webhook

import (
	"encoding/json"
	"net/http"
)

// answer is what a request gets back and how it is counted.
type answer struct {
	code    int
	outcome string
	body    []byte
}

var (
	bodyQueued    = []byte(`{"status":"queued"}` + "\n")
	bodyDuplicate = []byte(`{"status":"duplicate"}` + "\n")
)

func queued() answer {
	return answer{code: http.StatusAccepted, outcome: OutcomeQueued, body: bodyQueued}
}

func duplicate() answer {
	return answer{code: http.StatusAccepted, outcome: OutcomeDuplicate, body: bodyDuplicate}
}

// ignored answers 202 to a genuine delivery we have no use for: an error
// status would make the forge retry it and, on GitLab, disable the hook.
func ignored(reason string) answer {
	return answer{code: http.StatusAccepted, outcome: OutcomeIgnored, body: encode(struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}{"ignored", reason})}
}

// failure answers an error. msg is shown to the sender: it must never hold
// a secret or an internal detail such as a Redis address.
func failure(code int, outcome, msg string) answer {
	return answer{code: code, outcome: outcome, body: encode(struct {
		Error string `json:"error"`
	}{msg})}
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // only strings are encoded: this cannot happen
		return []byte(`{"error":"encode answer"}` + "\n")
	}
	return append(b, '\n')
}

func (a answer) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if a.code == http.StatusServiceUnavailable {
		h.Set("Retry-After", "30")
	}
	w.WriteHeader(a.code)
	_, _ = w.Write(a.body) // the sender hung up: nothing left to tell it
}
