// Package web serves Trainyard's dashboard: HTML pages of the trains, one
// train, and one merge request's journey, live updates over Server-Sent
// Events, and forms that pause, resume, freeze, unfreeze, drain and
// undrain a train or remove and retry a car. Pages are html/template with embedded CSS and one small script;
// every page works without the script.
//
// Project paths and branch names are one path segment each, escaped as the
// API escapes them ("group%2Fapp", "release%2F1.0"), since both may hold
// slashes.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// Trains is what the dashboard reads, as the API does; engine.Router
// serves every forge's.
type Trains = api.Trains

// Steering is what the dashboard's forms change: the API's operations.
type Steering interface {
	Remove(ctx context.Context, r engine.Request) error
	Retry(ctx context.Context, r engine.Request) error
	Pause(ctx context.Context, key train.Key, by engine.Actor) error
	Resume(ctx context.Context, key train.Key, by engine.Actor) error
}

// Freezing is what the freeze, unfreeze, drain and undrain forms change,
// as the API's calls do.
type Freezing = api.Freezing

var (
	_ Trains   = (*engine.Router)(nil)
	_ Steering = (*engine.Router)(nil)
)

// Options configure the dashboard.
type Options struct {
	// Trains reads the trains.
	Trains Trains
	// Steer changes them; nil: Trains, if it can.
	Steer Steering
	// Freeze freezes and drains them; nil: Steer, else Trains, if it can.
	Freeze Freezing
	// Tokens are the API's tokens: the forms need one that may write, and
	// the pages any, unless Public. With no token every form is refused.
	Tokens []api.Token
	// Token is one more token, named "api", that may write.
	Token string
	// Public lets anyone read the pages.
	Public bool
	// Profiles say how each forge writes and links MRs and pipelines.
	Profiles forge.Profiles
	// Now is the clock for times on the train and estimates.
	Now func() time.Time
	// Poll is how often the live updates look for changed trains;
	// default a second.
	Poll time.Duration
	// MaxStreams bounds the live update streams open at once, since each
	// reads every train per Poll; default 64.
	MaxStreams int
	// Logger receives server-side failures; a no-op logger if nil.
	Logger *zap.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Dashboard serves the pages. Its only state is what Options hold, the
// parsed templates and the count of open streams.
type Dashboard struct {
	Options
	pages   map[string]*template.Template
	streams chan struct{} // a slot per open live update stream
	// anonymous holds a slot per stream of a reader not signed in: at
	// most three quarters of MaxStreams, so that on a public dashboard
	// strangers cannot take every slot from those who sign in.
	anonymous chan struct{}
	mux       *http.ServeMux
}

// New returns the dashboard; mount it at "/".
func New(o Options) (*Dashboard, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 64
	}
	if o.Steer == nil {
		o.Steer, _ = o.Trains.(Steering)
	}
	o.Freeze = api.FreezingOf(o.Freeze, o.Steer, o.Trains)
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	d := &Dashboard{Options: o, pages: pages, streams: make(chan struct{}, o.MaxStreams),
		anonymous: make(chan struct{}, max(1, o.MaxStreams*3/4)), mux: http.NewServeMux()}
	d.routes()
	return d, nil
}

func (d *Dashboard) routes() {
	const (
		trainPath = "/trains/{forge}/{project}/{branch}"
		carPath   = trainPath + "/cars/{mr}"
	)
	static, _ := fs.Sub(staticFS, "static")
	d.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	d.mux.HandleFunc("GET /{$}", d.read(d.index))
	d.mux.HandleFunc("GET "+trainPath, d.read(d.trainPage))
	d.mux.HandleFunc("GET /mrs/{forge}/{project}/{mr}", d.read(d.mrPage))
	d.mux.HandleFunc("GET /events", d.stream)
	d.mux.HandleFunc("GET /login", d.loginForm)
	d.mux.HandleFunc("POST /login", d.login)
	d.mux.HandleFunc("POST /logout", d.logout)
	d.mux.HandleFunc("POST "+trainPath+"/pause", d.act(d.pause))
	d.mux.HandleFunc("POST "+trainPath+"/resume", d.act(d.resume))
	d.mux.HandleFunc("POST "+trainPath+"/freeze", d.act(d.freeze))
	d.mux.HandleFunc("POST "+trainPath+"/unfreeze", d.act(d.unfreeze))
	d.mux.HandleFunc("POST "+trainPath+"/drain", d.act(d.drain))
	d.mux.HandleFunc("POST "+trainPath+"/undrain", d.act(d.undrain))
	d.mux.HandleFunc("POST "+carPath+"/remove", d.act(d.remove))
	d.mux.HandleFunc("POST "+carPath+"/retry", d.act(d.retry))
}

// csp allows the page's own CSS, script and event stream, and nothing
// else: no inline code, no framing, no foreign forms.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// referrerPolicy keeps the dashboard's paths from the sites it links to.
// It is not "no-referrer": under that policy browsers send "Origin: null"
// with every form they post, and sameOrigin would refuse the dashboard's
// own forms.
const referrerPolicy = "same-origin"

// ServeHTTP sets the security headers on every answer, errors included.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", referrerPolicy)
	h.Set("X-Frame-Options", "DENY")
	d.mux.ServeHTTP(w, r)
}

// page is a handler that returns the template to render and its data.
type page func(r *http.Request) (name string, data any, err error)

// read serves a page, after checking the reader may see it.
func (d *Dashboard) read(p page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := d.authorize(r, false); err != nil {
			d.fail(w, r, err)
			return
		}
		name, data, err := p(r)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		d.render(w, r, http.StatusOK, name, data)
	}
}

// render writes a page whole or, if its template fails, a 500: the page
// is built in memory first so a failure never leaves half a page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var b bytes.Buffer
	t, ok := d.pages[name]
	if !ok {
		d.Logger.Error("render: no such page", zap.String("page", name))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&b, "layout", frame{Page: data, SignedIn: d.signedIn(r), Token: len(d.tokens()) > 0, Public: d.Public}); err != nil {
		d.Logger.Error("render "+name, zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = b.WriteTo(w)
}

// frame is what the layout needs beside the page's own data.
type frame struct {
	Page     any
	SignedIn bool // a valid token came with the request
	Token    bool // a token is configured: actions are possible
	Public   bool
}

// statusError is an error with the HTTP status and a message for people.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &statusError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &statusError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// fail answers an error as a page; a server-side failure is logged and
// shown without its details.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *statusError
	switch {
	case errors.As(err, &se):
	case errors.Is(err, engine.ErrUnknownForge):
		se = &statusError{http.StatusNotFound, "no such forge"}
	case errors.Is(err, engine.ErrRefused):
		se = &statusError{http.StatusConflict, "refused; the reason was posted on the merge request"}
	case errors.Is(err, engine.ErrBusy):
		se = &statusError{http.StatusServiceUnavailable, "the train is busy; try again"}
	default:
		d.Logger.Error("dashboard", zap.String("path", r.URL.EscapedPath()), zap.Error(err))
		se = &statusError{http.StatusInternalServerError, "internal error; see the server's log"}
	}
	if se.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="trainyard"`)
	}
	d.render(w, r, se.status, "error", errorPage{Status: se.status, StatusText: http.StatusText(se.status), Message: se.msg,
		SignIn: se.status == http.StatusUnauthorized})
}

type errorPage struct {
	Status     int
	StatusText string
	Message    string
	SignIn     bool
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"at":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"dur":   formatDuration,
	"short": shortSHA,
	"code":  codeSpans,
	"eta":   formatETA,
}

// formatETA says when a car should merge. A car whose pipeline runs past
// the estimate is due rather than "about 0s" away.
func formatETA(d time.Duration) string {
	if d < time.Second {
		return "any moment (overdue)"
	}
	return "about " + formatDuration(d)
}

// codeSpans renders the one piece of Markdown the engine's sentences use,
// `code` spans (branch names, paths), as <code>; everything else is
// escaped text. An unpaired backtick stays a backtick.
func codeSpans(s string) template.HTML {
	var b strings.Builder
	parts := strings.Split(s, "`")
	for i, part := range parts {
		switch {
		case i%2 == 0:
			b.WriteString(template.HTMLEscapeString(part))
		case i == len(parts)-1: // opened, never closed
			b.WriteString("`" + template.HTMLEscapeString(part))
		default:
			b.WriteString("<code>" + template.HTMLEscapeString(part) + "</code>")
		}
	}
	return template.HTML(b.String())
}

// parsePages parses the layout with each page, so every page defines its
// own "title" and "main" blocks.
func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse the dashboard layout: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"index", "train", "mr", "login", "error"} {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse the dashboard page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// formatDuration writes d for people, to the second below an hour and to
// the minute above.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return strings.TrimSuffix(d.Round(time.Second).String(), "0s")
	default:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// trainURL is a train's page; project and branch are escaped as one path
// segment each.
func trainURL(k train.Key) string {
	return "/trains/" + url.PathEscape(k.Forge) + "/" + url.PathEscape(k.Project) + "/" + url.PathEscape(k.Branch)
}

// mrURL is an MR's journey page.
func mrURL(forgeName, project string, mr int64) string {
	return fmt.Sprintf("/mrs/%s/%s/%d", url.PathEscape(forgeName), url.PathEscape(project), mr)
}

func trainName(k train.Key) string {
	return fmt.Sprintf("train %s of %s on %s", k.Branch, k.Project, k.Forge)
}
