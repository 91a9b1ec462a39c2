package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	httpserver "github.com/trainyard/trainyard/internal/server"
	"github.com/trainyard/trainyard/internal/train"
	v1 "github.com/trainyard/trainyard/pkg/api"
)

func (s *server) add(r *http.Request) (any, error)    { return s.mrCommand(r, Steering.Add, true) }
func (s *server) remove(r *http.Request) (any, error) { return s.mrCommand(r, Steering.Remove, false) }
func (s *server) retry(r *http.Request) (any, error)  { return s.mrCommand(r, Steering.Retry, false) }

// commandTimeout bounds an MR command's pass once its caller is gone.
const commandTimeout = 10 * time.Minute

// mrCommand runs add, remove or retry and answers with where the MR is
// after it: the engine has acted on the train by the time it returns.
// An add that leaves the MR off every train (joins says it should be on
// one) with no new record of it (it may have merged, or been evicted, in
// the same call) is a refusal.
func (s *server) mrCommand(r *http.Request, do func(Steering, context.Context, engine.Request) error, joins bool) (any, error) {
	req, err := s.requestOf(r)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("merge request %s of %s", s.Profiles.Of(req.Forge).Label(req.MR), req.Project)
	if s.Steer == nil {
		return nil, &call{what, engine.ErrUnknownForge}
	}
	var before int
	if joins {
		if before, err = s.records(r.Context(), req); err != nil {
			return nil, &call{what, err}
		}
	}
	// A caller that hangs up (or times out on a first clone of a large
	// repository) does not stop the command half way: it runs to its end,
	// within commandTimeout, and its result is on the MR and the train.
	// The server shutting down does stop it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), commandTimeout)
	defer cancel()
	defer context.AfterFunc(httpserver.Lifetime(r.Context()), cancel)()
	if err := do(s.Steer, ctx, req); err != nil {
		return nil, &call{what, err}
	}
	st, err := s.locate(r.Context(), req)
	if err != nil {
		return nil, &call{what, err}
	}
	if st.Car == nil && st.InLanes == nil && joins {
		after, err := s.records(r.Context(), req)
		if err != nil {
			return nil, &call{what, err}
		}
		if after > before {
			return st, nil // it came and went: its history says how
		}
		// The train itself turned the MR away (a draining train, a
		// dependency not on it) and told the MR why.
		return nil, &call{what, fmt.Errorf("%w: the merge train did not take it; the merge request's comments say why", engine.ErrRefused)}
	}
	return st, nil
}

// requestOf reads an MR command from the path and the optional body.
func (s *server) requestOf(r *http.Request) (engine.Request, error) {
	var req engine.Request
	key, err := s.projectKeyOf(r)
	if err != nil {
		return req, err
	}
	mr, err := mrOf(r)
	if err != nil {
		return req, err
	}
	var body v1.MRRequest
	if err := decodeBody(r, &body); err != nil {
		return req, err
	}
	by, err := actorOf(r, body.User)
	if err != nil {
		return req, err
	}
	prio := train.Priority(body.Priority)
	if prio != "" && !prio.Valid() {
		return req, badRequest("priority: want normal, high or urgent, got %q", body.Priority)
	}
	method := train.Method(body.Method)
	if method != "" && !method.Valid() {
		return req, badRequest("method: want merge, squash or rebase, got %q", body.Method)
	}
	if body.Branch != "" && !ValidBranch(body.Branch) {
		return req, badRequest("branch: want a branch name, got %q", body.Branch)
	}
	return engine.Request{
		Forge: key.Forge, Project: key.Project, MR: mr, Branch: body.Branch,
		Username: by.User, Via: by.Token, Priority: prio, Method: method,
		// Each call is a new command: its reply on the MR is its own.
		Event: "api:" + rand.Text(), Trusted: true,
	}, nil
}

// trainsFor lists the trains of the request's project: the branch's,
// when the request names one.
func (s *server) trainsFor(ctx context.Context, req engine.Request) ([]train.Key, error) {
	keys, err := s.Trains.Trains(ctx)
	if err != nil {
		return nil, fmt.Errorf("list trains: %w", err)
	}
	return slices.DeleteFunc(keys, func(k train.Key) bool {
		return k.Forge != req.Forge || !forge.SameProject(k.Project, req.Project) || (req.Branch != "" && k.Branch != req.Branch)
	}), nil
}

// records counts the entries for the MR in the recent history of the
// request's trains.
func (s *server) records(ctx context.Context, req engine.Request) (int, error) {
	keys, err := s.trainsFor(ctx, req)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		cars, err := s.Trains.History(ctx, k, MaxHistory)
		if err != nil {
			return 0, fmt.Errorf("history of train %s: %w", k, err)
		}
		for _, c := range cars {
			if c.MR == req.MR {
				n++
			}
		}
	}
	return n, nil
}

// locate finds the MR's car on the project's trains.
func (s *server) locate(ctx context.Context, req engine.Request) (v1.MRStatus, error) {
	st := v1.MRStatus{Forge: req.Forge, Project: req.Project, MR: req.MR, Label: s.Profiles.Of(req.Forge).Label(req.MR)}
	keys, err := s.trainsFor(ctx, req)
	if err != nil {
		return st, err
	}
	// An MR in its lanes is also a car of each lane's train: the train
	// it was added to, which holds it in its lanes, is where it is.
	var found *v1.MRStatus
	for _, k := range keys {
		t, err := s.Trains.Train(ctx, k)
		if err != nil {
			return st, fmt.Errorf("load train %s: %w", k, err)
		}
		if j := t.InLanesIndex(req.MR); j >= 0 {
			full := s.trainOf(t, 0)
			st.Project, st.Branch, st.InLanes = k.Project, k.Branch, &full.InLanes[j]
			return st, nil
		}
		if i := t.Index(req.MR); i >= 0 && found == nil {
			full := s.trainOf(t, s.perWindow(ctx, k))
			// The train's spelling of the project, not the caller's.
			at := st
			at.Project, at.Branch, at.Car = k.Project, k.Branch, &full.Cars[i]
			found = &at
		}
	}
	if found != nil {
		return *found, nil
	}
	return st, nil
}

// Open MRs listed at once: a page of the forge's, enough to complete.
const (
	defaultOpenMRs = 50
	maxOpenMRs     = 100
)

// openMRs answers GET /api/v1/merge_requests/{forge}/{project}[?limit=N]:
// the project's open merge requests, the most recently updated first,
// read from its forge (one request each call).
func (s *server) openMRs(r *http.Request) (any, error) {
	key, err := s.projectKeyOf(r)
	if err != nil {
		return nil, err
	}
	limit, err := limitOf(r, defaultOpenMRs, maxOpenMRs)
	if err != nil {
		return nil, err
	}
	l, ok := s.Trains.(Listing)
	if !ok {
		return nil, &statusError{http.StatusNotImplemented, "listing open merge requests is not available on this server"}
	}
	what := "open merge requests of " + key.Project
	mrs, err := l.OpenMRs(r.Context(), key.Forge, key.Project, int(limit))
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return nil, &statusError{http.StatusNotImplemented, "listing open merge requests is not available for " + key.Forge}
	case err != nil:
		return nil, &call{what, err}
	}
	pf := s.Profiles.Of(key.Forge)
	out := v1.OpenMRList{MergeRequests: make([]v1.OpenMR, 0, len(mrs))}
	for _, m := range mrs {
		out.MergeRequests = append(out.MergeRequests, v1.OpenMR{MR: m.IID, Label: pf.Label(m.IID), Title: m.Title,
			SourceBranch: m.SourceBranch, TargetBranch: m.TargetBranch, Author: m.Author, Draft: m.Draft, WebURL: m.WebURL})
	}
	return out, nil
}
