package fakeforge

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// GitHub App authentication: the app signs a short-lived RS256 JWT with
// its private key, and trades it for an installation token, which then
// works as any token does until it expires.

// maxJWTLife is the longest a JWT may live, as GitHub allows.
const maxJWTLife = 10 * time.Minute

// verifyAppJWT checks an app JWT's signature against the configured
// public key, its issuer and its lifetime.
func (f *Forge) verifyAppJWT(token string) error {
	app := f.opts.GitHub.App
	if app.ID == 0 {
		return errors.New("no GitHub app is configured")
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodRS256 {
			return nil, fmt.Errorf("signing method %v, want RS256", t.Header["alg"])
		}
		return app.PublicKey, nil
	})
	switch {
	case err != nil:
		return err
	case claims.Issuer != strconv.FormatInt(app.ID, 10):
		return fmt.Errorf("issuer %q is not app %d", claims.Issuer, app.ID)
	case claims.ExpiresAt == nil || claims.IssuedAt == nil:
		return errors.New("JWT without exp or iat")
	case claims.ExpiresAt.Sub(claims.IssuedAt.Time) > maxJWTLife:
		return fmt.Errorf("JWT lives %v, more than %v", claims.ExpiresAt.Sub(claims.IssuedAt.Time), maxJWTLife)
	}
	return nil
}

// ghCreateInstallationToken issues a token for the app's bot user, which
// may do anything on every repository, as an installation with every
// permission may.
func (f *Forge) ghCreateInstallationToken(w http.ResponseWriter, r *http.Request, _ *user) error {
	app := f.opts.GitHub.App
	if r.PathValue("installation_id") != strconv.FormatInt(app.InstallationID, 10) {
		return &ghError{http.StatusNotFound, ghMessage{Message: "Not Found", DocumentationURL: ghDocs}}
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("installation token: %w", err)
	}
	token := "ghs_" + hex.EncodeToString(b)
	f.mu.Lock()
	now := f.opts.Now()
	bot := f.st.addUser(app.Slug+"[bot]", true, now)
	expires := now.Add(app.TokenTTL)
	f.st.tokens[token] = bot.ID
	f.st.gh.tokenExpiry[token] = expires
	f.mu.Unlock()
	writeGH(w, http.StatusCreated, ghInstallationToken{
		Token: token, ExpiresAt: ghTimeStr(expires), RepositorySelection: "all",
		Permissions: map[string]string{"actions": "write", "checks": "read", "contents": "write", "issues": "write", "metadata": "read", "pull_requests": "write", "statuses": "read"},
	})
	return nil
}

// ghGetApp is GET /app: the app its JWT signs for.
func (f *Forge) ghGetApp(w http.ResponseWriter, r *http.Request, _ *user) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeGH(w, http.StatusOK, f.appOf(&checkRun{App: f.opts.GitHub.App.Slug}))
	return nil
}

// AppBot is the user the installation tokens of an app with the default
// slug act as: the slug's bot.
const AppBot = DefaultAppSlug + "[bot]"

// InstallationTokens returns how many installation tokens were issued.
func (f *Forge) InstallationTokens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.st.gh.tokenExpiry)
}
