package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// Streams of the seeded generator: the MRs are drawn from one, so every
// strategy faces the same MRs, and CI from another.
const (
	streamMRs    = 1
	streamCI     = 2
	streamUrgent = 3
)

// mrSpec is one simulated MR: when it arrives, whether it is broken and
// whether it is urgent.
type mrSpec struct {
	id     int64
	at     time.Duration
	broken bool
	urgent bool
}

// population is the MRs of a scenario and the pairs that conflict.
type population struct {
	mrs       []mrSpec
	conflicts map[[2]int64]bool
}

func newPopulation(s Scenario) population {
	rng := rand.New(rand.NewPCG(s.Seed, streamMRs))
	pop := population{conflicts: map[[2]int64]bool{}}
	var at time.Duration
	for i := 0; s.MRs == 0 || i < s.MRs; i++ {
		if s.Arrival == ArrivalPoisson {
			at += time.Duration(rng.ExpFloat64() / s.RatePerHour * float64(time.Hour))
			if s.Horizon > 0 && at > time.Duration(s.Horizon) {
				break
			}
		}
		pop.mrs = append(pop.mrs, mrSpec{id: int64(i + 1), at: at, broken: rng.Float64() < s.BreakProbability})
	}
	if s.ConflictProbability > 0 {
		// MRs written at about the same time may touch the same lines; one
		// written long after another is written against it.
		for i := range pop.mrs {
			for j := i + 1; j < len(pop.mrs) && j <= i+s.MaxParallel; j++ {
				if rng.Float64() < s.ConflictProbability {
					pop.conflicts[[2]int64{pop.mrs[i].id, pop.mrs[j].id}] = true
				}
			}
		}
	}
	if s.UrgentFraction > 0 {
		// A stream of its own: the same seed gives the same MRs, arrivals,
		// broken MRs and conflicts whatever the fraction.
		rng := rand.New(rand.NewPCG(s.Seed, streamUrgent))
		n := int(math.Round(s.UrgentFraction * float64(len(pop.mrs))))
		for _, i := range rng.Perm(len(pop.mrs))[:n] {
			pop.mrs[i].urgent = true
		}
	}
	return pop
}

// ciSampler draws pipeline durations and flakes.
type ciSampler struct {
	rng    *rand.Rand
	s      Scenario
	mu, sd float64 // of the underlying normal, for lognormal
}

func newCISampler(s Scenario) *ciSampler {
	c := &ciSampler{rng: rand.New(rand.NewPCG(s.Seed, streamCI)), s: s}
	if s.CI == DurationLognormal {
		m, sd := float64(s.CIMean), float64(s.CISpread)
		v := math.Log(1 + sd*sd/(m*m))
		c.mu, c.sd = math.Log(m)-v/2, math.Sqrt(v)
	}
	return c
}

// minCI keeps a normal draw from going to zero or below.
const minCI = time.Second

func (c *ciSampler) duration() time.Duration {
	mean := float64(c.s.CIMean)
	var d float64
	switch c.s.CI {
	case DurationNormal:
		d = mean + c.rng.NormFloat64()*float64(c.s.CISpread)
	case DurationLognormal:
		d = math.Exp(c.mu + c.sd*c.rng.NormFloat64())
	default:
		d = mean
	}
	return max(time.Duration(d), minCI)
}

func (c *ciSampler) flake() bool {
	return c.s.FlakeProbability > 0 && c.rng.Float64() < c.s.FlakeProbability
}
