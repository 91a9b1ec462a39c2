package notify

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// Kind is a chat's webhook flavour.
type Kind string

const (
	KindSlack      Kind = "slack"
	KindMattermost Kind = "mattermost"
)

// Route sends the notifications of some trains to one webhook.
type Route struct {
	// Name identifies the route in logs, where the URL must not appear;
	// empty means "<kind>#<index>".
	Name string
	// Forge and Project select trains; empty matches any.
	Forge   string
	Project string
	// Branches are target branch names or path.Match patterns
	// ("release/*"); empty matches every branch.
	Branches []string
	Kind     Kind
	URL      Secret
	// Events are notify kinds (merged, evicted, paused, resumed, frozen,
	// unfrozen, draining, undrained); empty means all of them.
	Events []train.NotifyKind
	// Username and IconURL override the name and avatar of the posts,
	// where the webhook allows it.
	Username string
	IconURL  string
	// RetryFor is how long a message that does not go through is retried,
	// across restarts, before it is given up; zero means DefaultRetryFor.
	RetryFor time.Duration
}

// ErrInvalidRoute marks a route that cannot be used.
var ErrInvalidRoute = errors.New("invalid notify route")

var knownEvents = []train.NotifyKind{train.NotifyMerged, train.NotifyEvicted, train.NotifyPaused, train.NotifyResumed,
	train.NotifyFrozen, train.NotifyUnfrozen, train.NotifyDraining, train.NotifyUndrained}

// Validate reports the first problem with r, naming its field.
func (r Route) Validate() error {
	if r.Kind != KindSlack && r.Kind != KindMattermost {
		return fmt.Errorf("%w: kind %q is not %q or %q", ErrInvalidRoute, r.Kind, KindSlack, KindMattermost)
	}
	if err := validWebhookURL(string(r.URL)); err != nil {
		return fmt.Errorf("%w: url: %w", ErrInvalidRoute, err)
	}
	for _, b := range r.Branches {
		if _, err := path.Match(b, ""); err != nil || b == "" {
			return fmt.Errorf("%w: branch pattern %q is malformed", ErrInvalidRoute, b)
		}
	}
	for _, e := range r.Events {
		if !slices.Contains(knownEvents, e) {
			return fmt.Errorf("%w: event %q is not one of %v", ErrInvalidRoute, e, knownEvents)
		}
	}
	if r.RetryFor < 0 {
		return fmt.Errorf("%w: retry_for %s is negative", ErrInvalidRoute, r.RetryFor)
	}
	return nil
}

// validWebhookURL checks the URL without ever quoting it.
func validWebhookURL(raw string) error {
	if raw == "" {
		return errors.New("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("scheme is not http or https")
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// matches reports whether the route wants kind events of the train key.
func (r Route) matches(key train.Key, kind train.NotifyKind) bool {
	if r.Forge != "" && r.Forge != key.Forge {
		return false
	}
	if r.Project != "" && r.Project != key.Project {
		return false
	}
	if len(r.Events) > 0 && !slices.Contains(r.Events, kind) {
		return false
	}
	if len(r.Branches) == 0 {
		return true
	}
	return slices.ContainsFunc(r.Branches, func(pattern string) bool {
		ok, _ := path.Match(pattern, key.Branch)
		return ok || pattern == key.Branch
	})
}

func (r Route) retryFor() time.Duration {
	if r.RetryFor > 0 {
		return r.RetryFor
	}
	return DefaultRetryFor
}

func (r Route) name(i int) string {
	if r.Name != "" {
		return r.Name
	}
	return string(r.Kind) + "#" + strconv.Itoa(i)
}
