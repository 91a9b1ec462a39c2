package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// A pipeline's result that a car waits for, reaching a replica while
// another holds the train's lease, is forwarded to the holder through the
// train's inbox in the store (see store.Forward), with whatever other
// events for the train wait with it: the holder plans it in the pass it is
// in, after the action at hand, with its mirror warm, instead of ending
// the pass and handing the train over. The replica that forwarded it keeps its events unacknowledged and
// tries the lease again as before. Whoever takes the lease is told when
// the inbox holds work, and takes it first; it is dropped only once what
// it brought is saved, so a holder that dies first loses nothing.

// forwarded is one forward's work, as the inbox holds it.
type forwarded struct {
	Obs    []forwardedObs `json:"obs,omitempty"`
	Checks []string       `json:"checks,omitempty"`
	// Head: read the target's head (a push happened); Pushed is the head
	// the push reported, as Job.pushed.
	Head   bool   `json:"head,omitempty"`
	Pushed string `json:"pushed,omitempty"`
}

// Kinds of forwardedObs: what an event brings a train, each from one
// observation type.
const (
	fwdStatus     = "pipeline"   // train.PipelineStatus
	fwdFound      = "found"      // train.PipelineFound
	fwdHead       = "head"       // train.HeadChanged
	fwdClosed     = "closed"     // train.Closed
	fwdRetargeted = "retargeted" // train.Retargeted
	// What one train asks of another (lanetrains.go).
	fwdAdded      = "added"       // train.Added: join a lane's train
	fwdRemoved    = "removed"     // train.Removed: leave it
	fwdTarget     = "target"      // train.TargetHead: its branch was set there
	fwdLanePassed = "lane_passed" // train.LanePassed
	fwdLaneLeft   = "lane_left"   // train.LaneLeft
	fwdLaneStale  = "lane_stale"  // train.LaneStale
)

// forwardedObs is one observation an event brought.
type forwardedObs struct {
	Kind     string              `json:"kind"`
	MR       int64               `json:"mr,omitempty"`
	SHA      string              `json:"sha,omitempty"`
	Pipeline int64               `json:"pipeline,omitempty"`
	Status   train.PipelineState `json:"status,omitempty"`
	MRs      []int64             `json:"mrs,omitempty"`
	Merged   bool                `json:"merged,omitempty"`
	Branch   string              `json:"branch,omitempty"`
	Lane     string              `json:"lane,omitempty"`
	Event    string              `json:"event,omitempty"`
	Added    *train.Added        `json:"added,omitempty"`
	Reason   *train.Reason       `json:"reason,omitempty"`
}

// forwardable turns o into its forwarded form, if events bring it.
func forwardable(o train.Observation) (forwardedObs, bool) {
	switch o := o.(type) {
	case train.PipelineStatus:
		return forwardedObs{Kind: fwdStatus, SHA: o.SHA, Pipeline: o.Pipeline, Status: o.Status}, true
	case train.PipelineFound:
		return forwardedObs{Kind: fwdFound, MR: o.MR, SHA: o.SHA, Pipeline: o.Pipeline, Status: o.Status, MRs: o.MRs}, true
	case train.HeadChanged:
		return forwardedObs{Kind: fwdHead, MR: o.MR, SHA: o.HeadSHA}, true
	case train.Closed:
		return forwardedObs{Kind: fwdClosed, MR: o.MR, Merged: o.Merged}, true
	case train.Retargeted:
		return forwardedObs{Kind: fwdRetargeted, MR: o.MR, Branch: o.Branch}, true
	}
	return forwardedObs{}, false
}

// observation is the observation o was made of; false for a kind this
// version does not know.
func (o forwardedObs) observation() (train.Observation, bool) {
	switch o.Kind {
	case fwdStatus:
		return train.PipelineStatus{Pipeline: o.Pipeline, SHA: o.SHA, Status: o.Status}, true
	case fwdFound:
		return train.PipelineFound{MR: o.MR, SHA: o.SHA, Pipeline: o.Pipeline, Status: o.Status, MRs: o.MRs}, true
	case fwdHead:
		return train.HeadChanged{MR: o.MR, HeadSHA: o.SHA}, true
	case fwdClosed:
		return train.Closed{MR: o.MR, Merged: o.Merged}, true
	case fwdRetargeted:
		return train.Retargeted{MR: o.MR, Branch: o.Branch}, true
	case fwdAdded:
		if o.Added == nil {
			return nil, false
		}
		return *o.Added, true
	case fwdRemoved:
		return train.Removed{MR: o.MR, Event: o.Event}, true
	case fwdTarget:
		return train.TargetHead{SHA: o.SHA}, true
	case fwdLanePassed:
		return train.LanePassed{MR: o.MR, HeadSHA: o.SHA, Lane: o.Lane}, true
	case fwdLaneLeft:
		var r train.Reason
		if o.Reason != nil {
			r = *o.Reason
		}
		return train.LaneLeft{MR: o.MR, HeadSHA: o.SHA, Lane: o.Lane, Reason: r}, true
	case fwdLaneStale:
		return train.LaneStale{MR: o.MR}, true
	}
	return nil, false
}

// Forward puts the work j brings from events in the inbox of its train,
// whose lease another holds, and returns what is left of j to try again:
// nothing but the look at the inbox that comes with the lease. j is
// returned whole when it has no such work, or work an event does not
// bring alone (a command's, a sweep), which keeps its order with the rest
// by staying here.
func (e *Engine) Forward(ctx context.Context, j Job) (Job, error) {
	if j.Command != nil || len(j.after) > 0 || len(j.done) > 0 || j.create || j.Sweep || j.force || j.headIfIdle {
		return j, nil
	}
	f := forwarded{Checks: j.Checks, Head: j.Head, Pushed: j.pushed}
	for _, o := range j.Obs {
		fo, ok := forwardable(o)
		if !ok {
			return j, nil
		}
		f.Obs = append(f.Obs, fo)
	}
	if len(f.Obs) == 0 && len(f.Checks) == 0 && !f.Head {
		return j, nil
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return j, fmt.Errorf("forward to train %s: %w", j.Key, err)
	}
	if err := e.store.Forward(ctx, j.Key, string(raw)); err != nil {
		return j, err
	}
	// Whoever takes the lease next is told the inbox holds work: the
	// holder, or this replica when it tries again, still ahead of work
	// that can wait.
	return Job{Key: j.Key, urgent: j.urgent, inboxOnly: true}, nil
}

// forwardTo puts obs in the inbox of another train, for its next pass.
func (e *Engine) forwardTo(ctx context.Context, key train.Key, obs ...forwardedObs) error {
	raw, err := json.Marshal(forwarded{Obs: obs})
	if err != nil {
		return fmt.Errorf("forward to train %s: %w", key, err)
	}
	return e.store.Forward(ctx, key, string(raw))
}

// readInbox reads the work forwarded to t's train and turns it into
// observations: what the events brought, and what they asked to read
// under the lease (a target's head, the pipelines of commits whose checks
// changed), read now. items are the forwards read: drop them (DropInbox)
// once what they brought is saved. Forwarded work never fails the pass
// that reads it, which has work of its own: what cannot be read now is
// left for a later pass (nothing is returned), and what the forge refuses
// for good is planned without what it could not read.
func (e *Engine) readInbox(ctx context.Context, log *zap.Logger, t train.Train) (obs []train.Observation, items []store.Forwarded) {
	items, err := e.store.PeekInbox(ctx, t.Key)
	if err != nil {
		log.Warn("read forwarded work; left for a later pass", zap.Error(err))
		return nil, nil
	}
	if len(items) == 0 {
		return nil, nil
	}
	// What they ask to read is read as one job would, once.
	read := Job{Key: t.Key}
	for _, it := range items {
		var f forwarded
		if err := json.Unmarshal([]byte(it.Work), &f); err != nil {
			// Only replicas write here; one of another version may
			// write what this one cannot read. The sweep reads the
			// pipelines again.
			log.Warn("forwarded work unreadable; dropped", zap.Error(err))
			continue
		}
		for _, fo := range f.Obs {
			o, ok := fo.observation()
			if !ok {
				log.Warn("forwarded work of an unknown kind; dropped", zap.String("kind", fo.Kind))
				continue
			}
			obs = append(obs, o)
		}
		read.merge(Job{Key: t.Key, Checks: f.Checks, Head: f.Head, pushed: f.Pushed})
	}
	log.Debug("read forwarded work", zap.Int("forwards", len(items)), zap.Int("observations", len(obs)),
		zap.Int("checks", len(read.Checks)), zap.Bool("head", read.Head))
	if len(read.Checks) > 0 || read.Head {
		more, err := e.read(ctx, log, t, read, nil)
		switch {
		case errors.Is(err, forge.ErrNotFound) || errors.Is(err, forge.ErrRejected):
			log.Warn("forwarded work asked for what the forge refuses; planned without it", zap.Error(err))
		case err != nil:
			log.Warn("read what forwarded work asked for; left for a later pass", zap.Error(err))
			return nil, nil
		default:
			// Read first, as a pass puts what it reads before what
			// events brought.
			obs = append(more, obs...)
		}
	}
	return obs, items
}

// inboxRounds plans and carries out what was forwarded to t's train
// while a replica that forwarded it waits (it asks for the lease as it
// forwards), before the pass lets the lease go: the holder, with the
// train loaded and its mirror warm, does the work. What is forwarded once
// the pass has ended is taken by whoever takes the lease next. token is
// the pass's lease.
func (e *Engine) inboxRounds(ctx context.Context, log *zap.Logger, t *train.Train, token string) error {
	for othersWait(ctx) {
		// Told first: a replica that asks again while this reads is
		// heard.
		noteServed(ctx)
		obs, items := e.readInbox(ctx, log, *t)
		if len(items) == 0 {
			return nil
		}
		if len(obs) > 0 {
			if err := e.rounds(ctx, log, t, obs); err != nil {
				return err
			}
		}
		if err := e.store.DropInbox(ctx, t.Key, token, items); err != nil {
			return err
		}
	}
	return nil
}
