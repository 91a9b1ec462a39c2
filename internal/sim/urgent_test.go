package sim

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// urgentScenario is a backlog of 500 MRs, 5% broken, window 10, with 5%
// of the MRs urgent (as; "" for none).
func urgentScenario(as string) Scenario {
	s := backlog(500, 0.05, 1)
	s.MaxParallel = 10
	if as != "" {
		s.UrgentFraction, s.UrgentAs = 0.05, as
	}
	return s
}

// busyScenario is poisson arrivals at 15 an hour, two thirds of what
// trainyard merges on a backlog at window 10 and p = 0.05 (22.5 an hour),
// so that urgent MRs arrive while the train is testing.
func busyScenario(as string) Scenario {
	s := urgentScenario(as)
	s.Arrival, s.RatePerHour, s.MRs = ArrivalPoisson, 15, 1000
	return s
}

func TestUrgentMRsAreChosenFromTheSeed(t *testing.T) {
	s := urgentScenario(UrgentAsUrgent)
	plain, marked := newPopulation(urgentScenario("")), newPopulation(s)
	urgent := 0
	for i, m := range marked.mrs {
		if m.urgent {
			urgent++
		}
		p := plain.mrs[i]
		if p.urgent || p.id != m.id || p.at != m.at || p.broken != m.broken {
			t.Fatalf("MR %d: %+v with urgent MRs, %+v without: want the same MR", i, m, p)
		}
	}
	if urgent != 25 {
		t.Errorf("%d urgent MRs, want 5%% of 500", urgent)
	}
	again := newPopulation(s)
	s.Seed = 2
	other := newPopulation(s)
	same, moved := true, false
	for i := range marked.mrs {
		same = same && again.mrs[i].urgent == marked.mrs[i].urgent
		moved = moved || other.mrs[i].urgent != marked.mrs[i].urgent
	}
	if !same || !moved {
		t.Errorf("same seed gives the same urgent MRs: %v; another seed others: %v", same, moved)
	}
}

func TestUrgentScenarioValidation(t *testing.T) {
	for _, tt := range []struct {
		fraction float64
		as       string
		field    string
	}{{-0.1, UrgentAsUrgent, "urgent_fraction"}, {1.5, UrgentAsHigh, "urgent_fraction"}, {math.NaN(), UrgentAsUrgent, "urgent_fraction"}, {0.1, "normal", "urgent_as"}, {0, "", "urgent_as"}} {
		s := DefaultScenario()
		s.UrgentFraction, s.UrgentAs = tt.fraction, tt.as
		if err := s.Validate(); !errors.Is(err, ErrInvalidScenario) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%v as %q: %v, want an error naming %s", tt.fraction, tt.as, err, tt.field)
		}
	}
	s := DefaultScenario()
	s.UrgentFraction, s.UrgentAs = 1, UrgentAsHigh
	if err := s.Validate(); err != nil {
		t.Errorf("every MR high: %v", err)
	}
}

// TestUrgentOnlyForThePlanner: the planner's strategies report urgent MRs
// apart, the peers, which have no priorities, do not, and without urgent
// MRs nobody does.
func TestUrgentOnlyForThePlanner(t *testing.T) {
	s := backlog(60, 0.1, 3)
	s.UrgentFraction, s.UrgentAs = 0.1, UrgentAsHigh
	rep, err := Compare(s)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range Strategies(s) {
		r := rep.Strategies[i]
		if isPeer(st) != (r.Urgent == nil) {
			t.Errorf("%s: urgent = %+v", r.Name, r.Urgent)
			continue
		}
		if u := r.Urgent; u != nil && (u.As != UrgentAsHigh || u.MRs != 6 || u.Merged+u.NormalMerged != r.Merged) {
			t.Errorf("%s: urgent = %+v, merged %d", r.Name, u, r.Merged)
		}
		if r.BrokenMerged != 0 || r.Merged+r.Evicted != 60 {
			t.Errorf("%s: merged %d (broken %d), evicted %d", r.Name, r.Merged, r.BrokenMerged, r.Evicted)
		}
	}
	if r := strategy(t, backlog(60, 0.1, 3), "trainyard"); r.Urgent != nil {
		t.Errorf("no urgent MRs: urgent = %+v", r.Urgent)
	}
}

// TestUrgentCostsFewerPipelinesThanHigh: urgent MRs merge sooner than the
// others whichever priority they get, but "high" rebuilds every car
// behind them, cancelling the pipelines those ran, where "urgent" tests
// them alone beside the train. On a backlog most of high's extra
// pipelines are cancelled as soon as started (the urgent MRs arrive at
// time zero, among the first cars to start); under poisson arrivals they
// are cancelled mid-run, and the normal MRs wait longer for it.
func TestUrgentCostsFewerPipelinesThanHigh(t *testing.T) {
	for _, sc := range []struct {
		name     string
		scenario func(as string) Scenario
	}{{"backlog", urgentScenario}, {"poisson", busyScenario}} {
		name, scenario := sc.name, sc.scenario
		none := strategy(t, scenario(""), "trainyard")
		urgent := strategy(t, scenario(UrgentAsUrgent), "trainyard")
		high := strategy(t, scenario(UrgentAsHigh), "trainyard")
		for _, r := range []Result{urgent, high} {
			u := r.Urgent
			if u == nil || u.Merged == 0 || r.BrokenMerged != 0 {
				t.Fatalf("%s as %v: %+v", name, u, r)
			}
			if u.TTMP50Minutes >= u.NormalTTMP50Minutes {
				t.Errorf("%s as %s: urgent MRs merge in %.0f min (p50), the others in %.0f: want sooner",
					name, u.As, u.TTMP50Minutes, u.NormalTTMP50Minutes)
			}
		}
		t.Logf("%s: pipelines per merged %.3f without urgent MRs, %.3f as urgent, %.3f as high; normal p50 %.0f, %.0f, %.0f",
			name, none.PipelinesPerMerged, urgent.PipelinesPerMerged, high.PipelinesPerMerged,
			none.TTMP50Minutes, urgent.Urgent.NormalTTMP50Minutes, high.Urgent.NormalTTMP50Minutes)
		if high.PipelinesPerMerged < 1.2*urgent.PipelinesPerMerged {
			t.Errorf("%s: %.3f pipelines per merged as urgent, %.3f as high: want high at least 1.2 times",
				name, urgent.PipelinesPerMerged, high.PipelinesPerMerged)
		}
		if urgent.Urgent.NormalTTMP95Minutes >= high.Urgent.NormalTTMP95Minutes {
			t.Errorf("%s: normal MRs' p95 %.0f min as urgent, %.0f as high: want urgent to delay them less",
				name, urgent.Urgent.NormalTTMP95Minutes, high.Urgent.NormalTTMP95Minutes)
		}
	}
}
