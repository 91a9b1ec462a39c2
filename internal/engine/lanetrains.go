package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// With lane trains (train.Settings.LaneTrains) an MR is first tested in
// the train of each lane it touches. A lane's train is an ordinary train
// whose target is a branch Trainyard owns, <prefix>-lanes/<target>/<lane>
// (outside the car branches, so that CI set up for those does not run
// for its moves): its cars are built on the lane's branch, their
// pipelines run as any car's, and a car that passed moves the lane's
// branch. What it tells people it does not tell: the target's train
// speaks for the MR. What it records goes back to the target's train
// (LanePassed, LaneLeft), which is where the MR merges, tested once more
// on the target, so the target still moves only to a tested tree.
//
// The trains talk through each other's inboxes in the store, as replicas
// forward work (forward.go): an action of one train never waits for
// another's lease. The lane's branch starts at the target's head, and is
// set back there when it is handed an MR while its train is empty, so
// that it follows the target, and by its own train when an MR it carries
// left the target's train unmerged (staleLane, resetBranch), so that no
// later test of the lane carries a change that will not land. A lane's
// branch that has drifted from the target only makes its tests a poorer
// guess, never the target wrong.

// laneBranch is the branch of lane's train for target.
func (e *Engine) laneBranch(target, lane string) string {
	return e.cfg.CarPrefix + "-lanes/" + target + "/" + lane
}

// underLanes reports whether branch is in the lane branches' namespace.
func (e *Engine) underLanes(branch string) bool {
	return strings.HasPrefix(branch, e.cfg.CarPrefix+"-lanes/")
}

// laneOf reads a lane train's key: the key of the target's train, and the
// lane; false for any other train. Lane names hold no slash, targets may.
func (e *Engine) laneOf(key train.Key) (target train.Key, lane string, ok bool) {
	rest, found := strings.CutPrefix(key.Branch, e.cfg.CarPrefix+"-lanes/")
	if !found {
		return train.Key{}, "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 || i == len(rest)-1 {
		return train.Key{}, "", false
	}
	target = key
	target.Branch = rest[:i]
	return target, rest[i+1:], true
}

// laneKey is the key of lane's train for the target's train t.
func (e *Engine) laneKey(t train.Key, lane string) train.Key {
	k := t
	k.Branch = e.laneBranch(t.Branch, lane)
	return k
}

// mrTarget is the key whose branch the MRs of train key target: the
// target's for a lane's train.
func (e *Engine) mrTarget(key train.Key) train.Key {
	if target, _, ok := e.laneOf(key); ok {
		return target
	}
	return key
}

// settings are the settings of the train of key, from the configuration.
// With lane trains, the lanes share the project's window and the
// target's train keeps one pipeline to integrate them
// (train.Settings.LaneSettings and Integrating, which the simulator
// measured). A lane's train takes the target's other settings, without
// lanes or a schedule.
func (e *Engine) settings(ctx context.Context, key train.Key) train.Settings {
	target, lane, ok := e.laneOf(key)
	if !ok {
		return e.cfg.Policy.Settings(key).WithDefaults().Integrating()
	}
	s := e.cfg.Policy.Settings(target)
	lanes := s.Lanes
	if !slices.ContainsFunc(lanes, func(l train.Lane) bool { return l.Name == lane }) {
		// The lanes of the repository's file: the target's train holds
		// them.
		if t, err := e.store.Load(ctx, target); err == nil {
			lanes = t.Settings.Lanes
		}
	}
	i := slices.IndexFunc(lanes, func(l train.Lane) bool { return l.Name == lane })
	if i < 0 {
		// A lane no longer configured finishes what it holds on one
		// pipeline.
		s = s.LaneSettings(0, 1)
		s.MaxParallel = 1
		return s.WithDefaults()
	}
	return s.LaneSettings(i, len(lanes)).WithDefaults()
}

// lanesAtAdd reads the lanes an MR at head touches when it is added to
// the train of key, where lane trains test it: the planner sends it to
// them only if it knows them then. Elsewhere nothing is read here (the
// car's lanes are read after its add, for showing).
func (e *Engine) lanesAtAdd(ctx context.Context, key train.Key, iid int64, head string) []string {
	if !e.cfg.Policy.Settings(key).LaneTrains {
		return nil // only the configuration turns lane trains on
	}
	t, err := e.load(ctx, key)
	if err != nil {
		e.log.Warn("read the train before an add; its lanes are read after it",
			zap.String("train", key.String()), zap.Int64("mr", iid), zap.Error(err))
		return nil
	}
	if !t.Settings.LaneTrains || len(t.Settings.Lanes) == 0 {
		return nil
	}
	return e.lanesOf(ctx, t, iid, head).Lanes
}

// joinLane hands the MR of a to its lane's train, setting the lane's
// branch to the target's head first when that train is idle (or not
// there yet).
func (e *Engine) joinLane(ctx context.Context, t *train.Train, a train.JoinLane) error {
	lane := e.laneKey(t.Key, a.Lane)
	lt, err := e.store.Load(ctx, lane)
	missing := errors.Is(err, store.ErrNotFound)
	if err != nil && !missing {
		return fmt.Errorf("join !%d to lane %s: %w", a.Add.MR, a.Lane, err)
	}
	var work []forwardedObs
	switch {
	case missing:
		// Made, with its branch, before it is given work, so that a
		// sweep finds it if the pass that should take the work never
		// comes.
		if err := e.reviveLane(ctx, t, lane); err != nil {
			return fmt.Errorf("join !%d to lane %s: %w", a.Add.MR, a.Lane, err)
		}
	case lt.Idle() && len(lt.Outbox) == 0:
		head, err := e.resetLane(ctx, t, lane.Branch, lt.TargetHead)
		if err != nil {
			return fmt.Errorf("join !%d to lane %s: %w", a.Add.MR, a.Lane, err)
		}
		if lt.TargetHead != head {
			work = append(work, forwardedObs{Kind: fwdTarget, SHA: head})
		}
	}
	add := a.Add
	work = append(work, forwardedObs{Kind: fwdAdded, Added: &add})
	if err := e.forwardTo(ctx, lane, work...); err != nil {
		return fmt.Errorf("join !%d to lane %s: %w", a.Add.MR, a.Lane, err)
	}
	if !missing {
		// An idle lane's train retired since it was read would leave the
		// work to no train: make it again, on its branch made again.
		if err := e.reviveLane(ctx, t, lane); err != nil {
			return fmt.Errorf("join !%d to lane %s: %w", a.Add.MR, a.Lane, err)
		}
	}
	e.log.Debug("sent to its lane's train", zap.String("train", t.Key.String()), zap.Int64("mr", a.Add.MR), zap.String("lane", a.Lane))
	e.wake(ctx, lane)
	return nil
}

// reviveLane makes the lane's train of key again if it is gone, with its
// branch at the target's head. The train is made before its branch: a
// retire that deletes the branch after this push finds the train there
// again, and pushes the branch back (dropLaneBranch).
func (e *Engine) reviveLane(ctx context.Context, t *train.Train, lane train.Key) error {
	if ok, err := e.store.Exists(ctx, lane); err != nil || ok {
		return err
	}
	if _, err := e.store.Save(ctx, train.New(lane, e.settings(ctx, lane))); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	head, err := e.resetLane(ctx, t, lane.Branch, "")
	if err != nil {
		return err
	}
	return e.forwardTo(ctx, lane, forwardedObs{Kind: fwdTarget, SHA: head})
}

// resetLane points the lane's branch at the target's head, which it
// returns, unless its train holds that head already (known), when the
// branch is there.
func (e *Engine) resetLane(ctx context.Context, t *train.Train, branch, known string) (string, error) {
	head := t.TargetHead
	if head == "" {
		h, err := e.forge.BranchHead(ctx, t.Project, t.Branch)
		if err != nil {
			return "", fmt.Errorf("read the head of %s: %w", t.Branch, err)
		}
		head = h
	}
	if known == head {
		return head, nil
	}
	repo, err := e.repos.Repo(ctx, t.Project)
	if err != nil {
		return "", err
	}
	if err := e.ensureCommit(ctx, repo, t, head); err != nil {
		return "", err
	}
	_, err = repo.PushCar(ctx, branch, head, e.laneOptions()...)
	if errors.Is(err, gitops.ErrNoPushOptions) {
		_, err = repo.PushCar(ctx, branch, head)
	}
	if err != nil {
		return "", fmt.Errorf("set %s to %.12s: %w", branch, head, err)
	}
	return head, nil
}

// resetLaneTo is resetLane for the target's train of key target, as
// stored; one that is gone has its head read from the forge.
func (e *Engine) resetLaneTo(ctx context.Context, target train.Key, branch, known string) (string, error) {
	t, err := e.store.Load(ctx, target)
	if errors.Is(err, store.ErrNotFound) {
		t = train.Train{Key: target}
	} else if err != nil {
		return "", err
	}
	return e.resetLane(ctx, &t, branch, known)
}

// laneOptions are the push options of a move of a lane's branch: on
// GitLab, ci.skip, since nobody waits for a pipeline of the lane's
// branch itself (its cars have their own).
func (e *Engine) laneOptions() []string {
	if e.cfg.Profile.PipelinesBySHA {
		return nil
	}
	return []string{"ci.skip"}
}

// leaveLane takes an MR off its lane's train, which tells nobody: the
// target's train has told its author why.
func (e *Engine) leaveLane(ctx context.Context, t *train.Train, a train.LeaveLane) error {
	lane := e.laneKey(t.Key, a.Lane)
	if ok, err := e.store.Exists(ctx, lane); err != nil || !ok {
		return err
	}
	if err := e.forwardTo(ctx, lane, forwardedObs{Kind: fwdRemoved, MR: a.MR, Event: a.Event}); err != nil {
		return fmt.Errorf("take !%d off lane %s: %w", a.MR, a.Lane, err)
	}
	e.wake(ctx, lane)
	return nil
}

// staleLane tells the lane's train that its branch carries the MR of a,
// which will not merge, so that the train sets the branch back.
func (e *Engine) staleLane(ctx context.Context, t *train.Train, a train.ResetLane) error {
	lane := e.laneKey(t.Key, a.Lane)
	if ok, err := e.store.Exists(ctx, lane); err != nil || !ok {
		// A retired lane's branch went with it.
		return err
	}
	if err := e.forwardTo(ctx, lane, forwardedObs{Kind: fwdLaneStale, MR: a.MR}); err != nil {
		return fmt.Errorf("tell lane %s that !%d left: %w", a.Lane, a.MR, err)
	}
	e.wake(ctx, lane)
	return nil
}

// resetBranch sets the branch of the lane's train t back to its target's
// head, as the target's train knows it, under t's own lease, so that no
// move of t's races it.
func (e *Engine) resetBranch(ctx context.Context, t *train.Train) ([]train.Observation, error) {
	target, _, ok := e.laneOf(t.Key)
	if !ok {
		return nil, nothingDone{}
	}
	head, err := e.resetLaneTo(ctx, target, t.Branch, t.TargetHead)
	if err != nil {
		return nil, fmt.Errorf("set %s back: %w", t.Branch, err)
	}
	e.log.Info("lane branch set back to the target", zap.String("train", t.Key.String()), zap.String("head", head))
	return []train.Observation{train.TargetHead{SHA: head}}, nil
}

// laneHistoryRead bounds how far back a lane's history is read for the
// record of an MR the lane may have finished with.
const laneHistoryRead = 200

// lostLanes checks, in a sweep of the target's train t, that every MR it
// holds in its lanes is somewhere in each lane it has not passed: on the
// lane's train, in its history (whose news to t was lost: told again
// here), or on its way there (an inbox, an outbox). An MR that is in
// none was lost between the trains, and is sent again (LaneLost). Only
// MRs in their lanes for two sweep intervals are looked at, so that what
// is on its way has had time to arrive. A read that fails leaves the MR
// for the next sweep.
func (e *Engine) lostLanes(ctx context.Context, t train.Train) []train.Observation {
	var obs []train.Observation
	lanes := map[string]*laneLook{}
	for _, lc := range t.InLanes {
		if e.now().Sub(lc.Since) < 2*e.cfg.SweepEvery {
			continue
		}
		for _, l := range lc.Lanes {
			if slices.Contains(lc.Passed, l) || slices.ContainsFunc(t.Outbox, func(a train.Action) bool {
				j, ok := a.(train.JoinLane)
				return ok && j.Lane == l && j.Add.MR == lc.Add.MR
			}) {
				continue
			}
			look := lanes[l]
			if look == nil {
				look = e.lookAtLane(ctx, e.laneKey(t.Key, l))
				lanes[l] = look
			}
			if o := look.news(lc, l); o != nil {
				e.log.Warn("an MR in its lanes was not found in one; told again",
					zap.String("train", t.Key.String()), zap.Int64("mr", lc.Add.MR), zap.String("lane", l), zap.String("found", fmt.Sprintf("%T", o)))
				obs = append(obs, o)
			}
		}
	}
	return obs
}

// laneLook is what a sweep read of a lane's train.
type laneLook struct {
	failed  bool // a read failed: nothing is concluded
	train   *train.Train
	busy    bool // its inbox holds work
	history []train.Car
}

func (e *Engine) lookAtLane(ctx context.Context, key train.Key) *laneLook {
	look := &laneLook{}
	t, err := e.store.Load(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		look.failed = true
		return look
	default:
		look.train = &t
	}
	if look.train != nil {
		// Work in the inbox of a train that is gone waits for nobody.
		n, err := e.store.InboxLen(ctx, key)
		if err != nil {
			look.failed = true
			return look
		}
		look.busy = n > 0
	}
	if look.history, err = e.store.History(ctx, key, laneHistoryRead); err != nil {
		look.failed = true
	}
	return look
}

// news is what the target's train should learn of lc's MR in lane, or
// nil when the lane holds it or its news may still be on the way.
func (l *laneLook) news(lc train.LaneCar, lane string) train.Observation {
	mr, head := lc.Add.MR, lc.Add.HeadSHA
	if l.failed || l.busy {
		return nil
	}
	if t := l.train; t != nil {
		if c := t.Car(mr); c != nil && c.HeadSHA == head {
			return nil
		}
		if slices.ContainsFunc(t.Outbox, func(a train.Action) bool {
			r, ok := a.(train.Record)
			return ok && r.Car.MR == mr
		}) {
			return nil // its departure is being told
		}
	}
	for _, c := range l.history {
		if c.MR != mr || c.HeadSHA != head || c.LeftAt.Before(lc.Since) {
			continue
		}
		if c.State == train.StateMerged {
			return train.LanePassed{MR: mr, HeadSHA: head, Lane: lane}
		}
		var r train.Reason
		if c.Reason != nil {
			r = *c.Reason
		}
		return train.LaneLeft{MR: mr, HeadSHA: head, Lane: lane, Reason: r}
	}
	return train.LaneLost{MR: mr, HeadSHA: head, Lane: lane}
}

// laneAct carries out a for the lane train t of the target's train
// target, in the place of what a target's train does: people are told
// nothing, and a car that left is told to the target's train.
func (e *Engine) laneAct(ctx context.Context, t *train.Train, target train.Key, lane string, a train.Action) (handled bool, err error) {
	switch a := a.(type) {
	case train.Comment, train.Status, train.Notify, train.CloseMR:
		return true, nothingDone{}
	case train.Record:
		if err := e.store.AppendHistory(ctx, t.Key, a.Car); err != nil {
			return true, fmt.Errorf("record !%d: %w", a.Car.MR, err)
		}
		c := a.Car
		fo := forwardedObs{Kind: fwdLanePassed, MR: c.MR, SHA: c.HeadSHA, Lane: lane}
		if c.State != train.StateMerged {
			var r train.Reason
			if c.Reason != nil {
				r = *c.Reason
			}
			fo.Kind, fo.Reason = fwdLaneLeft, &r
		}
		if err := e.forwardTo(ctx, target, fo); err != nil {
			return true, fmt.Errorf("tell %s of !%d: %w", target, c.MR, err)
		}
		e.log.Info("lane result", zap.String("train", t.Key.String()), zap.Int64("mr", c.MR), zap.String("state", string(c.State)))
		e.wake(ctx, target)
		return true, nil
	}
	return false, nil
}
