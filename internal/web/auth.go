package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/trainyard/trainyard/internal/api"
)

// cookieName holds a signed-in browser's session: not the token itself
// but a value derived from it, so a leaked cookie does not give the
// token for the API, and changing the token signs every browser out.
const cookieName = "trainyard_session"

// tokens is every API token, as the API takes them.
func (d *Dashboard) tokens() []api.Token { return api.AllTokens(d.Token, d.Tokens) }

// authorize checks the token a request needs: one that may write for an
// action, any for a page unless the dashboard is public. It fails closed:
// with no token configured nothing that needs one is allowed. The checks
// are the API's: Authorization: Bearer <token>, compared in constant time;
// a browser may instead carry the session cookie the sign-in form sets.
func (d *Dashboard) authorize(r *http.Request, action bool) (api.Token, error) {
	if !action && d.Public {
		return api.Token{}, nil
	}
	if len(d.tokens()) == 0 {
		return api.Token{}, &statusError{http.StatusForbidden, "no API token is configured, so this is not allowed to anyone"}
	}
	t, ok, err := d.presented(r)
	switch {
	case err != nil:
		return t, err
	case !ok:
		return t, &statusError{http.StatusUnauthorized, "sign in with an API token first"}
	case action && !t.Write:
		return t, &statusError{http.StatusForbidden, "token " + t.Name + " may only read; sign in with one that may write"}
	}
	return t, nil
}

// presented is the token a request carries, in its Authorization header
// or as a signed-in session; a header with a wrong token is an error.
func (d *Dashboard) presented(r *http.Request) (api.Token, bool, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		got, ok := api.Bearer(h)
		t, found := api.Match(d.tokens(), got)
		if !ok || !found {
			return api.Token{}, false, &statusError{http.StatusUnauthorized, "invalid token"}
		}
		return t, true, nil
	}
	t, ok := d.sessionToken(r)
	return t, ok, nil
}

// signedIn tells the layout whether to offer signing out or in.
func (d *Dashboard) signedIn(r *http.Request) bool {
	_, ok, err := d.presented(r)
	return ok && err == nil
}

// sessionToken is the token a session cookie was made with.
func (d *Dashboard) sessionToken(r *http.Request) (api.Token, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return api.Token{}, false
	}
	name, _, _ := strings.Cut(c.Value, ":")
	for _, t := range d.tokens() {
		if t.Name == name && api.TokenEqual(c.Value, session(t)) {
			return t, true
		}
	}
	return api.Token{}, false
}

// session is the cookie's value: the token's name and an HMAC of a fixed
// label and the name under the token.
func session(t api.Token) string {
	m := hmac.New(sha256.New, []byte(t.Value))
	m.Write([]byte("trainyard dashboard session v2\x00" + t.Name))
	return t.Name + ":" + hex.EncodeToString(m.Sum(nil))
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
	if len(d.tokens()) == 0 {
		d.fail(w, r, &statusError{http.StatusForbidden, "no API token is configured, so nobody can sign in"})
		return
	}
	t, ok := api.Match(d.tokens(), strings.TrimSpace(r.PostFormValue("token")))
	if !ok {
		d.render(w, r, http.StatusUnauthorized, "login", loginPage{Next: next, Error: "That is not an API token."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: session(t), Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		d.fail(w, r, &statusError{http.StatusForbidden, "form posted from another site"})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// localPath keeps a redirect on this site: a path, never "//host" or a
// URL. Browsers drop tabs and line breaks from a URL and read "\\" as
// "/", so "/\t/evil.example" would leave the site: no control character
// or backslash may appear at all.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
		strings.ContainsFunc(p, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return "/"
	}
	return p
}

// maxForm bounds form bodies; they hold a token at most.
const maxForm = 16 << 10
