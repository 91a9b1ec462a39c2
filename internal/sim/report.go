package sim

// Report compares the strategies on one scenario.
type Report struct {
	Scenario   Scenario `json:"scenario"`
	Bound      Bound    `json:"bound"`
	Strategies []Result `json:"strategies"`
}

// Compare runs every strategy of Strategies on the same MRs.
func Compare(s Scenario) (Report, error) {
	if err := s.Validate(); err != nil {
		return Report{}, err
	}
	if s.LanePool == LanePoolStatic {
		s.LanePool = "" // the default: the record stays as it was before pools
	}
	if s.LaneIntegration == LaneIntegrationLine {
		s.LaneIntegration = "" // likewise
	}
	pop := newPopulation(s)
	rep := Report{Scenario: s, Bound: OracleBound(s)}
	for _, st := range Strategies(s) {
		res, err := simulate(s, pop, st)
		if err != nil {
			return Report{}, err
		}
		rep.Strategies = append(rep.Strategies, res)
	}
	return rep, nil
}
