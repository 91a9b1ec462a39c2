package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// authorize checks the bearer token a route's access needs. It fails
// closed: without a configured token nothing that needs one is allowed.
func (s *server) authorize(r *http.Request, a access) error {
	if a == public || (a == reader && !s.ProtectReads) {
		return nil
	}
	if s.Token == "" {
		return &statusError{http.StatusForbidden, "API token not configured"}
	}
	got, ok := Bearer(r.Header.Get("Authorization"))
	if !ok {
		return &statusError{http.StatusUnauthorized, "missing bearer token (Authorization: Bearer <token>)"}
	}
	if !TokenEqual(got, s.Token) {
		return &statusError{http.StatusUnauthorized, "invalid token"}
	}
	return nil
}

// Bearer reads the token of an Authorization header of the Bearer
// scheme; the dashboard takes the same header.
func Bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// TokenEqual compares in constant time; hashing first keeps the length of
// the configured token from showing in the timing too.
func TokenEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
