package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/trainyard/trainyard/internal/api"
)

// cookieName holds a signed-in browser's session: not the token itself
// but a value derived from it, so a leaked cookie does not give the
// token for the API, and changing the token signs every browser out.
const cookieName = "trainyard_session"

// authorize checks the token a request needs: always for an action, for a
// page unless the dashboard is public. It fails closed: with no token
// configured nothing that needs one is allowed. The checks are the API's:
// Authorization: Bearer <token>, compared in constant time; a browser
// may instead carry the session cookie the sign-in form sets.
func (d *Dashboard) authorize(r *http.Request, action bool) error {
	if !action && d.Public {
		return nil
	}
	if d.Token == "" {
		return &statusError{http.StatusForbidden, "no API token is configured, so this is not allowed to anyone"}
	}
	if h := r.Header.Get("Authorization"); h != "" {
		got, ok := api.Bearer(h)
		if !ok || !api.TokenEqual(got, d.Token) {
			return &statusError{http.StatusUnauthorized, "invalid token"}
		}
		return nil
	}
	if d.sessionValid(r) {
		return nil
	}
	return &statusError{http.StatusUnauthorized, "sign in with the API token first"}
}

// signedIn tells the layout whether to offer signing out or in.
func (d *Dashboard) signedIn(r *http.Request) bool {
	if d.Token == "" {
		return false
	}
	if got, ok := api.Bearer(r.Header.Get("Authorization")); ok {
		return api.TokenEqual(got, d.Token)
	}
	return d.sessionValid(r)
}

func (d *Dashboard) sessionValid(r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	return err == nil && c.Value != "" && api.TokenEqual(c.Value, d.session())
}

// session is the cookie's value: an HMAC of a fixed label under the token.
func (d *Dashboard) session() string {
	m := hmac.New(sha256.New, []byte(d.Token))
	m.Write([]byte("trainyard dashboard session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// sameOrigin refuses a form posted from another site. The SameSite=Strict
// cookie already keeps a foreign site's post unauthenticated; this is a
// second lock for browsers that send Origin but mishandle SameSite.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser, or one that does not say
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

type loginPage struct {
	Next  string
	Error string
}

func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "login", loginPage{Next: localPath(r.URL.Query().Get("next"))})
}

// login checks the token from the form and sets the session cookie:
// HttpOnly so scripts cannot read it, SameSite=Strict so other sites'
// forms do not carry it, Secure when the request came over TLS.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if !sameOrigin(r) {
		d.fail(w, r, &statusError{http.StatusForbidden, "form posted from another site"})
		return
	}
	next := localPath(r.PostFormValue("next"))
	if d.Token == "" {
		d.fail(w, r, &statusError{http.StatusForbidden, "no API token is configured, so nobody can sign in"})
		return
	}
	if !api.TokenEqual(strings.TrimSpace(r.PostFormValue("token")), d.Token) {
		d.render(w, r, http.StatusUnauthorized, "login", loginPage{Next: next, Error: "That is not the API token."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: d.session(), Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// localPath keeps a redirect on this site: a path, never "//host" or a URL.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

// maxForm bounds form bodies; they hold a token at most.
const maxForm = 16 << 10
