package api

import (
	"time"

	"github.com/trainyard/trainyard/internal/train"
	v1 "github.com/trainyard/trainyard/pkg/api"
)

func (s *server) trainOf(t train.Train, perWindow time.Duration) v1.Train {
	now := s.Now()
	out := v1.Train{
		Forge: t.Forge, Project: t.Project, Branch: t.Branch, Paused: t.Paused, Draining: t.Draining,
		Frozen: freezeOf(t), Hold: holdOf(t, now),
		TargetHead: t.TargetHead, MaxParallel: t.Settings.MaxParallel,
		Cars: make([]v1.Car, len(t.Cars)), Version: t.Version,
	}
	est := train.EstimateFor(t, now, perWindow)
	for i, c := range t.Cars {
		var eta *v1.Duration
		if out.Hold == nil { // nothing merges while held: Hold says so instead
			eta = etaAt(est, i, c)
		}
		out.Cars[i] = s.carOf(t.Key, i, c, eta)
		out.Cars[i].TestedWith = t.RidesWith(i)
		out.Cars[i].Bisecting = c.Suspect != 0
		if c.Priority != train.PriorityNormal {
			out.Cars[i].Priority = string(c.Priority)
		}
		for _, d := range c.DependsOn {
			out.Cars[i].DependsOn = append(out.Cars[i].DependsOn, d.MR)
		}
		out.Cars[i].StackedOn = c.Stacked
		out.Cars[i].Lanes = c.Lanes
	}
	p := s.Profiles.Of(t.Forge)
	for _, lc := range t.InLanes {
		out.InLanes = append(out.InLanes, v1.LaneCar{
			MR: lc.Add.MR, Label: p.Label(lc.Add.MR), Title: lc.Add.Title, MRURL: p.Link().MR(t.Project, lc.Add.MR),
			AddedBy: lc.Add.By, AddedAt: lc.Since.UTC(), Lanes: lc.Lanes, Passed: append([]string{}, lc.Passed...),
		})
	}
	return out
}

func (s *server) carOf(key train.Key, i int, c train.Car, eta *v1.Duration) v1.Car {
	p := s.Profiles.Of(key.Forge)
	car := v1.Car{
		Position: i + 1, MR: c.MR, Label: p.Label(c.MR), Title: c.Title, MRURL: p.Link().MR(key.Project, c.MR),
		State: string(c.State), AddedBy: c.AddedBy, AddedVia: c.AddedVia, AddedAt: c.AddedAt.UTC(),
		TimeOnTrain: v1.Duration(max(0, s.Now().Sub(c.AddedAt))),
		Pipeline:    c.Pipeline, Commit: c.Commit, Attempts: c.Attempts, EstimatedMerge: eta,
	}
	if c.Pipeline != 0 {
		car.PipelineURL, car.PipelineLabel = p.Link().Pipeline(key.Project, c.Pipeline), p.PipelineLabel(c.Pipeline)
	}
	return car
}

func (s *server) summaryOf(t train.Train) v1.TrainSummary {
	sum := v1.TrainSummary{Forge: t.Forge, Project: t.Project, Branch: t.Branch, Paused: t.Paused, Draining: t.Draining,
		Frozen: freezeOf(t), Hold: holdOf(t, s.Now()), Cars: len(t.Cars)}
	for _, c := range t.Cars {
		if c.State == train.StateStarting || c.State == train.StateRunning {
			sum.Running++
		}
	}
	return sum
}

func (s *server) historyOf(key train.Key, c train.Car) v1.HistoryEntry {
	p := s.Profiles.Of(key.Forge)
	h := v1.HistoryEntry{
		MR: c.MR, Label: p.Label(c.MR), Title: c.Title, MRURL: p.Link().MR(key.Project, c.MR), State: string(c.State),
		Commit: c.Commit, Pipeline: c.Pipeline, AddedBy: c.AddedBy, AddedVia: c.AddedVia,
		AddedAt: c.AddedAt.UTC(), LeftAt: c.LeftAt.UTC(),
	}
	if r := c.Reason; r != nil {
		// The reason is the sentence the MR was told, and names the
		// MR's own pipeline and commit, which may differ from the car's
		// last ones (a build that failed has none).
		h.Reason, h.ReasonCode = r.Message.Render(p.PipelineLabel), string(r.Code)
		if r.Pipeline != 0 {
			h.Pipeline = r.Pipeline
		}
		if r.Commit != "" {
			h.Commit = r.Commit
		}
		h.Base = r.Base
		if r.Code == train.ReasonConflict || r.Code == train.ReasonBuildFailed {
			// Never built: no commit of its own (records written before
			// Base named the base as the commit).
			h.Commit, h.Pipeline = "", 0
		}
	}
	if h.Pipeline != 0 {
		h.PipelineURL, h.PipelineLabel = p.Link().Pipeline(key.Project, h.Pipeline), p.PipelineLabel(h.Pipeline)
	}
	return h
}

// etaAt is car c's estimate at position i, nil when there is none.
func etaAt(e train.Estimate, i int, c train.Car) *v1.Duration {
	d, ok := e.At(i, c)
	if !ok {
		return nil
	}
	eta := v1.Duration(d)
	return &eta
}

// freezeOf is the freeze someone put on t, nil if none.
func freezeOf(t train.Train) *v1.Freeze {
	if t.Frozen == nil {
		return nil
	}
	return &v1.Freeze{Kind: string(train.HoldFrozen), Reason: t.Frozen.Reason, By: t.Frozen.By}
}

// holdOf is what holds t's target at now, nil if nothing does: a freeze
// by command, else a freeze period or being outside the merge windows.
func holdOf(t train.Train, now time.Time) *v1.Hold {
	h, held := t.Hold(now)
	if !held {
		return nil
	}
	out := &v1.Hold{Kind: string(h.Kind), Reason: h.Reason, Sentence: h.Sentence()}
	if !h.Until.IsZero() {
		out.Until = h.Until.UTC()
	}
	return out
}
