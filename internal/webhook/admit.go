package webhook

import (
	"net/http"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/event"
)

// maxStrangers bounds the projects remembered as logged, so a sender
// naming a new project in every delivery cannot grow the set for ever.
const maxStrangers = 1024

// admit checks a verified, decoded delivery against its project: the
// secret that verified it must be one for that project (else 401 with
// refusal, as for a bad secret), and the project one Trainyard runs
// trains for (else 202, ignored and counted, and logged the first time).
func (h *Handler) admit(keys keyring, matched *key, ev event.Event, refusal string) (answer, bool) {
	if !keys.allows(ev.Project, matched) {
		return failure(http.StatusUnauthorized, OutcomeUnauthorized, refusal), false
	}
	if h.known(ev.Forge, ev.Project) {
		return answer{}, true
	}
	if h.strangers.first(ev.Forge + ":" + strings.ToLower(ev.Project)) {
		h.log.Warn("webhook for a project not in the configuration; its deliveries are ignored (logged once per project)",
			zap.String("forge", ev.Forge), zap.String("project", ev.Project), zap.String("delivery", ev.ID))
	}
	return answer{code: http.StatusAccepted, outcome: OutcomeUnknownProject, body: encode(struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}{"ignored", "project " + ev.Project + " is not configured"})}, false
}

// onceSet remembers up to max strings, to do something once for each.
type onceSet struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

func newOnceSet(max int) *onceSet { return &onceSet{max: max, seen: map[string]bool{}} }

// first reports whether s is new, and remembers it while there is room.
// Once full, nothing is new: the log has said enough.
func (o *onceSet) first(s string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen[s] || len(o.seen) >= o.max {
		return false
	}
	o.seen[s] = true
	return true
}
