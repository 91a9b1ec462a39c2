package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
	v1 "github.com/trainyard/trainyard/pkg/api"
)

// maxBody bounds request bodies; they are a few small fields.
const maxBody = 64 << 10

// History limits: the default and the most one call returns (exported
// for the client to check its flag against).
const (
	defaultHistory = 20
	MaxHistory     = 500
)

// keyOf reads the train a path names.
func (s *server) keyOf(r *http.Request) (train.Key, error) {
	key, err := s.projectKeyOf(r)
	if err != nil {
		return train.Key{}, err
	}
	key.Branch = r.PathValue("branch")
	if !ValidBranch(key.Branch) {
		return train.Key{}, badRequest("branch: want a branch name")
	}
	return key, nil
}

// projectKeyOf reads the forge and the project a path names (Branch
// empty).
func (s *server) projectKeyOf(r *http.Request) (train.Key, error) {
	forgeName, err := forgeOf(r)
	if err != nil {
		return train.Key{}, err
	}
	project, err := s.projectOf(r, forgeName)
	if err != nil {
		return train.Key{}, err
	}
	return train.Key{Forge: forgeName, Project: project}, nil
}

// ValidBranch reports whether b can name a branch: git refuses control
// characters, and a train key must stay one line of bounded size.
func ValidBranch(b string) bool {
	return b != "" && len(b) <= 255 && !strings.ContainsFunc(b, unicode.IsControl)
}

func forgeOf(r *http.Request) (string, error) {
	f := r.PathValue("forge")
	if f == "" || strings.ContainsFunc(f, func(c rune) bool { return c < 'a' || c > 'z' }) {
		return "", badRequest("forge: want a forge name such as gitlab, got %q", f)
	}
	return f, nil
}

func (s *server) projectOf(r *http.Request, forgeName string) (string, error) {
	p := r.PathValue("project")
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") || strings.ContainsFunc(p, unicode.IsControl) {
		return "", badRequest("project: want a project path such as group%%2Fapp, got %q", p)
	}
	if pf := s.Profiles.Of(forgeName); pf.ProjectDepth > 0 && strings.Count(p, "/")+1 != pf.ProjectDepth {
		return "", badRequest("project: want a %s project path of %d segments, got %q", pf.Title, pf.ProjectDepth, p)
	}
	return s.canonical(forgeName, p), nil
}

// canonical is project p of forge f as the configuration spells it, or p
// when the configuration does not name it (or Trains cannot list what it
// names). The engine finds a project whatever the case of its path; the
// answers, and the links in them, name it as its train does.
func (s *server) canonical(f, p string) string {
	if ps, ok := s.Trains.(Projects); ok {
		for _, k := range ps.Projects() {
			if k.Forge == f && forge.SameProject(k.Project, p) {
				return k.Project
			}
		}
	}
	return p
}

func mrOf(r *http.Request) (int64, error) {
	s := r.PathValue("mr")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, badRequest("mr: want a merge request number, got %q", s)
	}
	return n, nil
}

// limitOf reads ?limit=N, from 1 to most; def if it is not given.
func limitOf(r *http.Request, def, most int64) (int64, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > most {
		return 0, badRequest("limit: want a number from 1 to %d, got %q", most, s)
	}
	return n, nil
}

// decodeBody reads an optional JSON body into v; unknown fields are
// errors, so a misspelt option is not silently ignored.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooLarge):
		return &statusError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", tooLarge.Limit)}
	case err != nil:
		return badRequest("body: %v", err)
	case dec.More():
		return badRequest("body: want one JSON object")
	}
	return nil
}

// actorOf is who a command is by: the user the body names, through the
// token the request presented. With no user named the token's name
// stands in; an unnamed read-only call cannot steer, so a token is there.
func actorOf(r *http.Request, user string) (engine.Actor, error) {
	name, err := CheckUser(user)
	if err != nil {
		return engine.Actor{}, err
	}
	t := caller(r.Context()).Name
	if name == "" {
		name = t
	}
	return engine.Actor{User: name, Token: t}, nil
}

// CheckUser checks the username a call names, as the API takes it: empty
// (the token's name stands in), or up to 100 of the characters of forge
// usernames, since it appears in notes on the MR. The error is a 400
// whose message says what is wrong.
func CheckUser(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	ok := len(name) <= 100 && !strings.ContainsFunc(name, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')
	})
	if !ok {
		return "", badRequest("user: want a username of letters, digits, '.', '_' and '-', got %q", name)
	}
	return name, nil
}

// CheckReason checks a freeze's reason, as the API and the dashboard take
// it: 1 to v1.MaxReason characters once trimmed, and no control or
// formatting characters (line breaks, escapes, bidirectional overrides),
// since it is shown in comments, chat and terminals. It returns the
// reason trimmed, or a 400 error whose message says what is wrong.
func CheckReason(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", badRequest("reason: want why the train is frozen, 1 to %d characters", v1.MaxReason)
	case n > v1.MaxReason:
		return "", badRequest("reason: want at most %d characters, got %d", v1.MaxReason, n)
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		return "", badRequest("reason: want text without control or formatting characters")
	}
	return s, nil
}
