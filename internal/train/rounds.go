package train

// MovesFirst orders the target's moves ahead of the other actions, which
// otherwise keep their order: a car that passed should not wait for the
// builds of the cars behind it.
func MovesFirst(outbox Actions) Actions {
	out := make(Actions, 0, len(outbox))
	for _, a := range outbox {
		if _, ok := a.(FastForwardTarget); ok {
			out = append(out, a)
		}
	}
	for _, a := range outbox {
		if _, ok := a.(FastForwardTarget); !ok {
			out = append(out, a)
		}
	}
	return out
}

// Settled reports whether results hold a pipeline's final state: the
// planner should see it before anything else in the outbox is done.
func Settled(results []Observation) bool {
	for _, o := range results {
		if s, ok := o.(PipelineStatus); ok && s.Status.Done() {
			return true
		}
	}
	return false
}
