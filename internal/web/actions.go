package web

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/api"
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
	return d.steer(r, "pause", "paused", func(ctx context.Context, k train.Key) error { return d.Steer.Pause(ctx, k, by) })
}
func (d *Dashboard) resume(r *http.Request, by engine.Actor) (string, error) {
	return d.steer(r, "resume", "resumed", func(ctx context.Context, k train.Key) error { return d.Steer.Resume(ctx, k, by) })
}

// freeze takes the form's reason, checked as the API checks it.
func (d *Dashboard) freeze(r *http.Request, by engine.Actor) (string, error) {
	reason, err := api.CheckReason(r.PostFormValue("reason"))
	if err != nil {
		return "", badRequest("%s", err)
	}
	return d.steer(r, "freeze", "frozen", func(ctx context.Context, k train.Key) error {
		f, err := d.freezing()
		if err != nil {
			return err
		}
		return f.Freeze(ctx, k, by, reason)
	})
}
func (d *Dashboard) unfreeze(r *http.Request, by engine.Actor) (string, error) {
	return d.steer(r, "unfreeze", "unfrozen", func(ctx context.Context, k train.Key) error {
		f, err := d.freezing()
		if err != nil {
			return err
		}
		return f.Unfreeze(ctx, k, by)
	})
}
func (d *Dashboard) drain(r *http.Request, by engine.Actor) (string, error) {
	return d.draining(r, by, true)
}
func (d *Dashboard) undrain(r *http.Request, by engine.Actor) (string, error) {
	return d.draining(r, by, false)
}

func (d *Dashboard) draining(r *http.Request, by engine.Actor, on bool) (string, error) {
	verb, done := "undrain", "undrained"
	if on {
		verb, done = "drain", "set to drain"
	}
	return d.steer(r, verb, done, func(ctx context.Context, k train.Key) error {
		f, err := d.freezing()
		if err != nil {
			return err
		}
		return f.Drain(ctx, k, by, on)
	})
}

// freezing is what freezes and drains trains, or why there is nothing.
func (d *Dashboard) freezing() (Freezing, error) {
	if d.Freeze == nil {
		return nil, &statusError{http.StatusNotImplemented, "Freezing and draining trains is not available on this server."}
	}
	return d.Freeze, nil
}

// steer changes the train the path names, which must exist, and goes
// back to its page.
func (d *Dashboard) steer(r *http.Request, verb, done string, do func(context.Context, train.Key) error) (string, error) {
	k, err := keyOf(r)
	if err != nil {
		return "", err
	}
	if _, err := d.load(r.Context(), k); err != nil {
		return "", err
	}
	if err := do(r.Context(), k); err != nil {
		return "", fmt.Errorf("%s %s: %w", verb, trainName(k), err)
	}
	d.Logger.Info("train "+done+" from the dashboard", zap.String("train", k.String()))
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
