package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
	v1 "github.com/trainyard/trainyard/pkg/api"
)

// listTrains answers GET /api/v1/trains[?forge=F][&project=P]. Both
// filters match whatever the case, as project paths do everywhere else.
func (s *server) listTrains(r *http.Request) (any, error) {
	ctx := r.Context()
	q := r.URL.Query()
	keys, err := s.Trains.Trains(ctx)
	if err != nil {
		return nil, fmt.Errorf("list trains: %w", err)
	}
	out := v1.TrainList{Trains: []v1.TrainSummary{}}
	for _, k := range keys {
		if (q.Has("forge") && !strings.EqualFold(k.Forge, q.Get("forge"))) || (q.Has("project") && !forge.SameProject(k.Project, q.Get("project"))) {
			continue
		}
		t, err := s.Trains.Train(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("load train %s: %w", k, err)
		}
		out.Trains = append(out.Trains, s.summaryOf(t))
	}
	return out, nil
}

// projects answers GET /api/v1/projects: the projects the configuration
// names, trains or not.
func (s *server) projects(*http.Request) (any, error) {
	out := v1.ProjectList{Projects: []v1.Project{}}
	if ps, ok := s.Trains.(Projects); ok {
		for _, k := range ps.Projects() {
			out.Projects = append(out.Projects, v1.Project{Forge: k.Forge, Project: k.Project})
		}
	}
	return out, nil
}

// showTrain answers GET .../trains/{forge}/{project}/{branch}.
func (s *server) showTrain(r *http.Request) (any, error) {
	key, err := s.keyOf(r)
	if err != nil {
		return nil, err
	}
	return s.train(r.Context(), key)
}

// train reads a train that exists, with estimates.
func (s *server) train(ctx context.Context, key train.Key) (v1.Train, error) {
	t, err := s.Trains.Train(ctx, key)
	if err != nil {
		return v1.Train{}, &call{trainName(key), err}
	}
	// The engine hands out a fresh train for a key it never stored.
	if t.Version == 0 {
		return v1.Train{}, notFound("%s not found", trainName(key))
	}
	return s.trainOf(t, s.perWindow(ctx, key)), nil
}

// perWindow is the recent pipeline duration estimates are made of. An
// estimate is an extra: without history it is left out, not an error.
func (s *server) perWindow(ctx context.Context, key train.Key) time.Duration {
	hist, err := s.Trains.History(ctx, key, train.HistoryForEstimate)
	if err != nil {
		s.Logger.Warn("read history for an estimate", zap.String("train", key.String()), zap.Error(err))
		return 0
	}
	return train.PipelineDuration(hist)
}

// history answers GET .../history[?limit=N].
func (s *server) history(r *http.Request) (any, error) {
	key, err := s.keyOf(r)
	if err != nil {
		return nil, err
	}
	limit, err := limitOf(r, defaultHistory, MaxHistory)
	if err != nil {
		return nil, err
	}
	cars, err := s.Trains.History(r.Context(), key, limit)
	if err != nil {
		return nil, &call{"history of " + trainName(key), err}
	}
	out := v1.History{Forge: key.Forge, Project: key.Project, Branch: key.Branch, Entries: make([]v1.HistoryEntry, len(cars))}
	for i, c := range cars {
		out.Entries[i] = s.historyOf(key, c)
	}
	return out, nil
}

func (s *server) pause(r *http.Request) (any, error) {
	return s.trainCommand(r, Steering.Pause)
}

func (s *server) resume(r *http.Request) (any, error) {
	return s.trainCommand(r, Steering.Resume)
}

// freeze answers POST .../freeze, whose body must give a reason.
func (s *server) freeze(r *http.Request) (any, error) {
	key, err := s.keyOf(r)
	if err != nil {
		return nil, err
	}
	var body v1.FreezeRequest
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	reason, err := CheckReason(body.Reason)
	if err != nil {
		return nil, err
	}
	by, err := actorOf(r, body.User)
	if err != nil {
		return nil, err
	}
	return s.steerTrain(r.Context(), key, func(ctx context.Context) error {
		f, err := s.freezing()
		if err != nil {
			return err
		}
		return f.Freeze(ctx, key, by, reason)
	})
}

func (s *server) unfreeze(r *http.Request) (any, error) {
	return s.freezeCommand(r, func(f Freezing, ctx context.Context, key train.Key, by engine.Actor) error {
		return f.Unfreeze(ctx, key, by)
	})
}

func (s *server) drain(r *http.Request) (any, error) {
	return s.freezeCommand(r, func(f Freezing, ctx context.Context, key train.Key, by engine.Actor) error {
		return f.Drain(ctx, key, by, true)
	})
}

func (s *server) undrain(r *http.Request) (any, error) {
	return s.freezeCommand(r, func(f Freezing, ctx context.Context, key train.Key, by engine.Actor) error {
		return f.Drain(ctx, key, by, false)
	})
}

// trainCommand runs pause or resume and answers with the train after it.
func (s *server) trainCommand(r *http.Request, do func(Steering, context.Context, train.Key, engine.Actor) error) (any, error) {
	return s.simpleCommand(r, func(ctx context.Context, key train.Key, by engine.Actor) error {
		if s.Steer == nil {
			return engine.ErrUnknownForge
		}
		return do(s.Steer, ctx, key, by)
	})
}

// freezeCommand runs unfreeze, drain or undrain and answers with the
// train after it.
func (s *server) freezeCommand(r *http.Request, do func(Freezing, context.Context, train.Key, engine.Actor) error) (any, error) {
	return s.simpleCommand(r, func(ctx context.Context, key train.Key, by engine.Actor) error {
		f, err := s.freezing()
		if err != nil {
			return err
		}
		return do(f, ctx, key, by)
	})
}

// freezing is what freezes and drains trains, or why there is nothing.
func (s *server) freezing() (Freezing, error) {
	if s.Freeze == nil {
		return nil, &statusError{http.StatusNotImplemented, "freezing and draining trains is not available on this server"}
	}
	return s.Freeze, nil
}

// simpleCommand runs a train command whose body is a v1.TrainRequest.
func (s *server) simpleCommand(r *http.Request, do func(context.Context, train.Key, engine.Actor) error) (any, error) {
	key, err := s.keyOf(r)
	if err != nil {
		return nil, err
	}
	var body v1.TrainRequest
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	by, err := actorOf(r, body.User)
	if err != nil {
		return nil, err
	}
	return s.steerTrain(r.Context(), key, func(ctx context.Context) error { return do(ctx, key, by) })
}

// steerTrain runs a command on a train and answers with the train after
// it.
func (s *server) steerTrain(ctx context.Context, key train.Key, do func(context.Context) error) (any, error) {
	if err := do(ctx); err != nil {
		return nil, &call{trainName(key), err}
	}
	return s.train(ctx, key)
}

func trainName(key train.Key) string {
	return fmt.Sprintf("train %s of %s on %s", key.Branch, key.Project, key.Forge)
}
