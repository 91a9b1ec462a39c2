package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/trainyard/trainyard/internal/train"
)

// Arrival processes.
const (
	ArrivalPoisson = "poisson" // MRs arrive at RatePerHour on average
	ArrivalBacklog = "backlog" // MRs MRs are all queued at time zero
)

// CI duration distributions.
const (
	DurationFixed     = "fixed"
	DurationNormal    = "normal"
	DurationLognormal = "lognormal"
)

// ErrInvalidScenario is wrapped by every scenario validation error.
var ErrInvalidScenario = errors.New("invalid scenario")

// Duration is a time.Duration written as "30m" in JSON and YAML.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string such as "30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	return d.parse(s)
}

// UnmarshalYAML reads a duration string such as "30m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return d.parse(n.Value) }

func (d *Duration) parse(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Scenario is every input of a simulation run.
type Scenario struct {
	// Arrival is "poisson" or "backlog".
	Arrival string `json:"arrival" yaml:"arrival"`
	// RatePerHour is the mean arrival rate of a poisson process.
	RatePerHour float64 `json:"rate_per_hour" yaml:"rate_per_hour"`
	// MRs is how many MRs arrive (the backlog size); zero with poisson
	// arrivals: as many as arrive before the horizon.
	MRs int `json:"mrs" yaml:"mrs"`
	// CI is the pipeline duration distribution: fixed, normal or lognormal
	// with mean CIMean and standard deviation CISpread.
	CI       string   `json:"ci" yaml:"ci"`
	CIMean   Duration `json:"ci_mean" yaml:"ci_mean"`
	CISpread Duration `json:"ci_spread" yaml:"ci_spread"`
	// BreakProbability is the chance an MR is broken: every pipeline whose
	// commit carries it fails.
	BreakProbability float64 `json:"break_probability" yaml:"break_probability"`
	// FlakeProbability is the chance any one pipeline fails regardless.
	FlakeProbability float64 `json:"flake_probability" yaml:"flake_probability"`
	// ConflictProbability is the chance that two MRs at most MaxParallel
	// arrivals apart cannot both be merged.
	ConflictProbability float64 `json:"conflict_probability" yaml:"conflict_probability"`
	// MaxParallel is the window of the gitlab and trainyard strategies.
	MaxParallel int `json:"max_parallel" yaml:"max_parallel"`
	// Retries is the trainyard strategy's retries of a failed pipeline.
	Retries int `json:"retries" yaml:"retries"`
	// BatchSize is the most MRs one pipeline of the trainyard strategies
	// tests; it is also the oracle bound's batch limit.
	BatchSize int `json:"batch_size" yaml:"batch_size"`
	// MinWindow is the floor of the thrift strategy's adaptive window.
	MinWindow int `json:"min_window" yaml:"min_window"`
	// Horizon stops the simulation at this virtual time; zero: run until
	// every MR has left the train.
	Horizon Duration `json:"horizon" yaml:"horizon"`
	Seed    uint64   `json:"seed" yaml:"seed"`
	// UrgentFraction is the share of the MRs that are urgent, chosen from
	// the seed (round(fraction × MRs) of them, on a stream of their own,
	// so the MRs are otherwise the same as without). Only the strategies
	// the planner runs add them with a priority; the peers treat every MR
	// as normal.
	UrgentFraction float64 `json:"urgent_fraction" yaml:"urgent_fraction"`
	// UrgentAs is the priority urgent MRs are added with: "urgent" (tested
	// at once, alone, cancelling nothing) or "high" (to the front, the cars
	// behind rebuilt on it).
	UrgentAs string `json:"urgent_as" yaml:"urgent_as"`
	// Lanes splits the train into this many lanes for the trainyard-lanes
	// strategy (lanes.go); 1, the default, runs no lanes and adds no
	// strategy. The other strategies always run one train.
	Lanes int `json:"lanes" yaml:"lanes"`
	// CrossLane is the share of the MRs that touch two lanes (chosen from
	// the seed, with lanes > 1 only).
	CrossLane float64 `json:"cross_lane" yaml:"cross_lane"`
	// LaneConflict is the chance that an integration combining two or more
	// lanes' new MRs holds a cross-lane interaction: two of its MRs, from
	// lanes they do not share, that fail every tree carrying both.
	LaneConflict float64 `json:"lane_conflict" yaml:"lane_conflict"`
	// LanePool is how the lanes share max_parallel: "static" (or empty,
	// the default) cuts it into fixed windows (train.LaneWindows, as the
	// engine does); "shared" lets a lane use the pipelines the others
	// leave free (lanes.go, allot). Omitted from the JSON and YAML when
	// static, so a scenario without it prints as before.
	LanePool string `json:"lane_pool,omitempty" yaml:"lane_pool,omitempty"`
	// LaneIntegration is how MRs that passed their lanes reach the
	// target: "line" (or empty, the default) through the integration
	// line of lanes.go; "train" through a train of the target run by the
	// production planner with Settings.LaneTrains, which also sends the
	// MRs to their lanes (lanes.go, mainTrain). Omitted when "line".
	LaneIntegration string `json:"lane_integration,omitempty" yaml:"lane_integration,omitempty"`
}

// Lane integrations (Scenario.LaneIntegration).
const (
	LaneIntegrationLine  = "line"
	LaneIntegrationTrain = "train"
)

// trainIntegration reports whether the target's own train integrates
// the lanes.
func (s Scenario) trainIntegration() bool { return s.LaneIntegration == LaneIntegrationTrain }

// Lane pools (Scenario.LanePool).
const (
	LanePoolStatic = "static"
	LanePoolShared = "shared"
)

// sharedPool reports whether the lanes share one pool of pipelines.
func (s Scenario) sharedPool() bool { return s.LanePool == LanePoolShared }

// Priorities urgent MRs may be added with (Scenario.UrgentAs).
const (
	UrgentAsUrgent = string(train.PriorityUrgent)
	UrgentAsHigh   = string(train.PriorityHigh)
)

// urgentPriority is the priority the planner's strategies add an urgent MR
// with.
func (s Scenario) urgentPriority() train.Priority {
	if s.UrgentAs == UrgentAsHigh {
		return train.PriorityHigh
	}
	return train.PriorityUrgent
}

// DefaultScenario is a backlog of 500 MRs, 30-minute CI, 5% broken.
func DefaultScenario() Scenario {
	return Scenario{
		Arrival: ArrivalBacklog, MRs: 500, CI: DurationFixed,
		CIMean: Duration(30 * time.Minute), BreakProbability: 0.05,
		MaxParallel: 20, BatchSize: train.DefaultBatchSize, MinWindow: DefaultMinWindow, Seed: 1,
		UrgentAs: UrgentAsUrgent, Lanes: 1, CrossLane: DefaultCrossLane,
	}
}

// DefaultCrossLane is the share of MRs that touch two lanes.
const DefaultCrossLane = 0.1

// Validate names the first field that is out of range.
func (s Scenario) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidScenario, field, fmt.Sprintf(format, args...))
	}
	prob := func(field string, p float64) error {
		if p < 0 || p >= 1 || p != p {
			return bad(field, "%v is not in [0, 1)", p)
		}
		return nil
	}
	switch {
	case s.Arrival != ArrivalPoisson && s.Arrival != ArrivalBacklog:
		return bad("arrival", "%q is not poisson or backlog", s.Arrival)
	case s.Arrival == ArrivalPoisson && !(s.RatePerHour > 0):
		return bad("rate_per_hour", "must be positive for poisson arrivals")
	case s.MRs < 0 || (s.Arrival == ArrivalBacklog && s.MRs == 0):
		return bad("mrs", "%d: a backlog needs at least one MR", s.MRs)
	case s.Arrival == ArrivalPoisson && s.MRs == 0 && s.Horizon <= 0:
		return bad("horizon", "poisson arrivals need mrs or a horizon")
	case s.CI != DurationFixed && s.CI != DurationNormal && s.CI != DurationLognormal:
		return bad("ci", "%q is not fixed, normal or lognormal", s.CI)
	case s.CIMean <= 0:
		return bad("ci_mean", "must be positive")
	case s.CISpread < 0:
		return bad("ci_spread", "must not be negative")
	case s.MaxParallel < 1:
		return bad("max_parallel", "must be at least 1")
	case s.Retries < 0:
		return bad("retries", "must not be negative")
	case s.BatchSize < 1:
		return bad("batch_size", "must be at least 1")
	case s.MinWindow < 1 || s.MinWindow > s.MaxParallel:
		return bad("min_window", "%d is not between 1 and max_parallel (%d)", s.MinWindow, s.MaxParallel)
	case s.Horizon < 0:
		return bad("horizon", "must not be negative")
	case !(s.UrgentFraction >= 0 && s.UrgentFraction <= 1):
		return bad("urgent_fraction", "%v is not in [0, 1]", s.UrgentFraction)
	case s.UrgentAs != UrgentAsUrgent && s.UrgentAs != UrgentAsHigh:
		return bad("urgent_as", "%q is not urgent or high", s.UrgentAs)
	case s.Lanes < 1 || s.Lanes > MaxLanes:
		return bad("lanes", "%d is not between 1 and %d", s.Lanes, MaxLanes)
	case !(s.CrossLane >= 0 && s.CrossLane <= 1):
		return bad("cross_lane", "%v is not in [0, 1]", s.CrossLane)
	case s.LanePool != "" && s.LanePool != LanePoolStatic && s.LanePool != LanePoolShared:
		return bad("lane_pool", "%q is not static or shared", s.LanePool)
	case s.LaneIntegration != "" && s.LaneIntegration != LaneIntegrationLine && s.LaneIntegration != LaneIntegrationTrain:
		return bad("lane_integration", "%q is not line or train", s.LaneIntegration)
	case s.trainIntegration() && s.sharedPool():
		return bad("lane_integration", "train runs with lane_pool static only")
	case s.sharedPool() && s.Lanes > 1 && s.MaxParallel < s.Lanes+1:
		// Every lane may always run one pipeline and the integration
		// line one, so the pool needs one per lane and one more.
		return bad("lane_pool", "shared needs max_parallel (%d) above lanes (%d)", s.MaxParallel, s.Lanes)
	}
	if err := prob("break_probability", s.BreakProbability); err != nil {
		return err
	}
	if err := prob("flake_probability", s.FlakeProbability); err != nil {
		return err
	}
	if err := prob("conflict_probability", s.ConflictProbability); err != nil {
		return err
	}
	return prob("lane_conflict", s.LaneConflict)
}

// LoadScenario reads a YAML scenario over base (fields the file leaves out
// keep base's values). Unknown fields are an error.
func LoadScenario(path string, base Scenario) (Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("read scenario %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	s := base
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, fmt.Errorf("decode scenario %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", path, err)
	}
	return s, nil
}
