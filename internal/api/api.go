// Package api serves Trainyard's HTTP API under /api/v1: the trains and
// their cars and history for reading, and add, remove, retry, pause,
// resume, freeze, unfreeze, drain and undrain for driving them; and the events the workers gave up on, to read
// and requeue. The JSON types are in pkg/api.
//
// A project path and a branch name are one path segment each, escaped as
// GitLab's own API does ("group%2Fapp", "release%2F1.0"), because both may
// hold slashes.
package api

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// Trains is what the API reads.
type Trains interface {
	Trains(ctx context.Context) ([]train.Key, error)
	Train(ctx context.Context, key train.Key) (train.Train, error)
	History(ctx context.Context, key train.Key, limit int64) ([]train.Car, error)
}

// Steering is what the API changes.
type Steering interface {
	Add(ctx context.Context, r engine.Request) error
	Remove(ctx context.Context, r engine.Request) error
	Retry(ctx context.Context, r engine.Request) error
	Pause(ctx context.Context, key train.Key, by engine.Actor) error
	Resume(ctx context.Context, key train.Key, by engine.Actor) error
}

// Listing lists a project's open MRs from its forge; Trains that cannot
// answer the listing with 501.
type Listing interface {
	OpenMRs(ctx context.Context, forge, project string, limit int) ([]forge.MR, error)
}

// Projects lists the configured projects; Trains without it list none.
type Projects interface {
	Projects() []train.Key
}

var (
	_ Listing  = (*engine.Router)(nil)
	_ Projects = (*engine.Router)(nil)
)

// Freezing is what the freeze, unfreeze, drain and undrain calls change.
// It is apart from Steering so that a Steering without it still steers:
// these calls then answer 501.
type Freezing interface {
	Freeze(ctx context.Context, key train.Key, by engine.Actor, reason string) error
	Unfreeze(ctx context.Context, key train.Key, by engine.Actor) error
	Drain(ctx context.Context, key train.Key, by engine.Actor, on bool) error
}

var (
	_ Trains   = (*engine.Router)(nil)
	_ Steering = (*engine.Router)(nil)
	_ Freezing = (*engine.Engine)(nil)
	_ Freezing = (*engine.Router)(nil)
)

// Options configure the API.
type Options struct {
	// Trains reads the trains; engine.Router serves every forge's.
	Trains Trains
	// Steer changes them; nil: Trains, if it can.
	Steer Steering
	// Freeze freezes and drains them; nil: Steer, else Trains, if it can.
	Freeze Freezing
	// Events holds the dead letters; nil: their routes answer 404.
	Events Events
	// Tokens authorise calls (Authorization: Bearer <token>). Calls that
	// change trains, and every dead letter call, need a token that may
	// write; with no token set they are all refused.
	Tokens []Token
	// Token is one more token, named "api", that may write.
	Token string
	// ProtectReads makes reading calls need the token too.
	ProtectReads bool
	// Profiles say how each forge writes and links MRs and pipelines; a
	// forge without one gets plain labels and no links.
	Profiles forge.Profiles
	// Now is the clock for times on the train and estimates.
	Now func() time.Time
	// Logger receives server-side failures; a no-op logger if nil.
	Logger *zap.Logger
}

// FreezingOf is f, else the first of others that can freeze, else nil.
func FreezingOf(f Freezing, others ...any) Freezing {
	for _, o := range others {
		if f != nil {
			break
		}
		f, _ = o.(Freezing)
	}
	return f
}

// Prefix is the path every route starts with; mount the handler there.
const Prefix = "/api/v1/"

// server holds the options behind the handlers.
type server struct {
	Options
}

// New returns the API's handler, which serves every path under Prefix.
func New(o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Steer == nil {
		o.Steer, _ = o.Trains.(Steering)
	}
	o.Freeze = FreezingOf(o.Freeze, o.Steer, o.Trains)
	s := &server{Options: o}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		s.register(mux, rt)
	}
	mux.Handle(Prefix, s.wrap(route{access: public}, s.noRoute))
	return mux
}

// access is who may call a route.
type access int

const (
	public access = iota // anyone
	reader               // anyone, unless ProtectReads
	writer               // holders of the token
)

type route struct {
	method, path string
	access       access
	h            handler
}

// handler serves one call: its result is written as JSON, its error as an
// error response with the status the error calls for.
type handler func(r *http.Request) (any, error)

func (s *server) routes() []route {
	const (
		train = "/api/v1/trains/{forge}/{project}/{branch}"
		mr    = "/api/v1/merge_requests/{forge}/{project}/{mr}"
		dead  = "/api/v1/events/dead"
	)
	return []route{
		{http.MethodGet, "/api/v1/trains", reader, s.listTrains},
		{http.MethodGet, train, reader, s.showTrain},
		{http.MethodGet, "/api/v1/projects", reader, s.projects},
		{http.MethodGet, train + "/history", reader, s.history},
		{http.MethodPost, train + "/pause", writer, s.pause},
		{http.MethodPost, train + "/resume", writer, s.resume},
		{http.MethodPost, train + "/freeze", writer, s.freeze},
		{http.MethodPost, train + "/unfreeze", writer, s.unfreeze},
		{http.MethodPost, train + "/drain", writer, s.drain},
		{http.MethodPost, train + "/undrain", writer, s.undrain},
		// Open MRs are the forge's, not the trains': the token, as to
		// add one.
		{http.MethodGet, "/api/v1/merge_requests/{forge}/{project}", writer, s.openMRs},
		{http.MethodPost, mr + "/add", writer, s.add},
		{http.MethodPost, mr + "/remove", writer, s.remove},
		{http.MethodPost, mr + "/retry", writer, s.retry},
		// Events hold comment text of possibly private projects: reading
		// them needs the token too.
		{http.MethodGet, dead, writer, s.deadLetters},
		{http.MethodGet, dead + "/{id}", writer, s.deadLetter},
		{http.MethodPost, dead + "/{id}/requeue", writer, s.requeue},
	}
}

// register adds a route and, for the same path with any other method, a
// JSON 405 (ServeMux's own 405 is plain text).
func (s *server) register(mux *http.ServeMux, rt route) {
	mux.Handle(rt.method+" "+rt.path, s.wrap(rt, rt.h))
	mux.Handle(rt.path, s.wrap(route{access: public}, func(*http.Request) (any, error) {
		return nil, methodNotAllowed(rt.method)
	}))
}

func (s *server) noRoute(r *http.Request) (any, error) {
	return nil, &statusError{http.StatusNotFound, "no such route: " + r.Method + " " + r.URL.EscapedPath() +
		"; project paths and branch names are one path segment each, escaped like group%2Fapp"}
}

func (s *server) wrap(rt route, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := s.authorize(r, rt.access)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		v, err := h(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}
