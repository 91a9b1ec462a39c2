package web

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/train"
)

// action changes a train, acting as by, and returns the page to go back
// to.
type action func(r *http.Request, by engine.Actor) (back string, err error)

// act serves a form: the token first (401 without it, 403 with none
// configured), then the change, then a redirect to the train's page so
// reloading it does not post the form again.
func (d *Dashboard) act(a action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		t, err := d.authorize(r, true)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		if !sameOrigin(r) {
			d.fail(w, r, &statusError{http.StatusForbidden, "form posted from another site"})
			return
		}
		if d.Steer == nil {
			d.fail(w, r, engine.ErrUnknownForge)
			return
		}
		// The token says who may act, not who the person is: notes and
		// the history name the token.
		back, err := a(r, engine.Actor{User: t.Name, Token: t.Name})
		if err != nil {
			d.fail(w, r, err)
			return
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
}

func (d *Dashboard) pause(r *http.Request, by engine.Actor) (string, error) {
	return d.steer(r, by, "pause", Steering.Pause)
}
func (d *Dashboard) resume(r *http.Request, by engine.Actor) (string, error) {
	return d.steer(r, by, "resume", Steering.Resume)
}

func (d *Dashboard) steer(r *http.Request, by engine.Actor, verb string, do func(Steering, context.Context, train.Key, engine.Actor) error) (string, error) {
	k, err := keyOf(r)
	if err != nil {
		return "", err
	}
	if _, err := d.load(r.Context(), k); err != nil {
		return "", err
	}
	if err := do(d.Steer, r.Context(), k, by); err != nil {
		return "", fmt.Errorf("%s %s: %w", verb, trainName(k), err)
	}
	d.Logger.Info("train "+verb+"d from the dashboard", zap.String("train", k.String()))
	return trainURL(k), nil
}

func (d *Dashboard) remove(r *http.Request, by engine.Actor) (string, error) {
	return d.car(r, by, "remove", Steering.Remove)
}
func (d *Dashboard) retry(r *http.Request, by engine.Actor) (string, error) {
	return d.car(r, by, "retry", Steering.Retry)
}

// car removes or retries a car through the engine, as the API's MR
// commands do: a trusted request, since the token was checked, with an
// event id of its own so its reply on the MR is posted once.
func (d *Dashboard) car(r *http.Request, by engine.Actor, verb string, do func(Steering, context.Context, engine.Request) error) (string, error) {
	k, err := keyOf(r)
	if err != nil {
		return "", err
	}
	mr, err := strconv.ParseInt(r.PathValue("mr"), 10, 64)
	if err != nil || mr <= 0 {
		return "", badRequest("Want a merge request number, not %q.", r.PathValue("mr"))
	}
	req := engine.Request{Forge: k.Forge, Project: k.Project, MR: mr, Branch: k.Branch, Username: by.User, Via: by.Token,
		Event: "dashboard:" + rand.Text(), Trusted: true}
	if err := do(d.Steer, r.Context(), req); err != nil {
		return "", fmt.Errorf("%s %s on %s: %w", verb, d.Profiles.Of(k.Forge).Label(mr), trainName(k), err)
	}
	d.Logger.Info("car "+verb+" from the dashboard", zap.String("train", k.String()), zap.Int64("mr", mr))
	return trainURL(k), nil
}
