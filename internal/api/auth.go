package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Token is one API token: a name people and the history know it by, and
// whether it may change trains or only read them.
type Token struct {
	Name  string
	Write bool
	Value string
}

// AllTokens is every token a server takes: the named ones, and token,
// the unnamed one of older configurations, known as "api" with write
// access. The dashboard takes the same.
func AllTokens(token string, named []Token) []Token {
	if token == "" {
		return named
	}
	return append([]Token{{Name: "api", Write: true, Value: token}}, named...)
}

type tokenKey struct{}

// caller is the token the request was authorised with; zero for a read
// that needs none.
func caller(ctx context.Context) Token {
	t, _ := ctx.Value(tokenKey{}).(Token)
	return t
}

// authorize checks the bearer token a route's access needs, and returns
// the request with the token it presented. It fails closed: without a
// configured token nothing that needs one is allowed.
func (s *server) authorize(r *http.Request, a access) (*http.Request, error) {
	if a == public || (a == reader && !s.ProtectReads) {
		return r, nil
	}
	tokens := AllTokens(s.Token, s.Tokens)
	if len(tokens) == 0 {
		return r, &statusError{http.StatusForbidden, "API token not configured"}
	}
	got, ok := Bearer(r.Header.Get("Authorization"))
	if !ok {
		return r, &statusError{http.StatusUnauthorized, "missing bearer token (Authorization: Bearer <token>)"}
	}
	t, ok := Match(tokens, got)
	if !ok {
		return r, &statusError{http.StatusUnauthorized, "invalid token"}
	}
	if a == writer && !t.Write {
		return r, &statusError{http.StatusForbidden, "token " + t.Name + " may only read"}
	}
	return r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)), nil
}

// Match finds the token whose value is got. Every token is compared, in
// constant time, so which one matched does not show in the timing.
func Match(tokens []Token, got string) (Token, bool) {
	var found Token
	ok := false
	for _, t := range tokens {
		if TokenEqual(got, t.Value) && !ok {
			found, ok = t, true
		}
	}
	return found, ok
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
