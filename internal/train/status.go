package train

import "fmt"

// Coalesce keeps only the last Status of each MR in actions, at its own
// place: what an MR shows is worth one write however many times it
// changed within a pass. It also drops a build or a pipeline start that
// repeats one before it (a Resync asks again for what the outbox still
// holds), which would build and push the same car twice. A kept Status without an Added sentence takes
// the one of the Status it replaces, so an add followed by the start of
// its pipeline still tells both.
func Coalesce(actions Actions) Actions {
	last := map[int64]int{}
	for i, a := range actions {
		if s, ok := a.(Status); ok {
			last[s.MR] = i
		}
	}
	out := make(Actions, 0, len(actions))
	added := map[int64]Text{}
	seen := map[string]bool{}
	for i, a := range actions {
		s, ok := a.(Status)
		if !ok {
			if k := repeatKey(a); k != "" {
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			out = append(out, a)
			continue
		}
		if len(s.Added) > 0 {
			added[s.MR] = s.Added
		}
		if last[s.MR] != i {
			continue
		}
		if len(s.Added) == 0 {
			s.Added = added[s.MR]
		}
		out = append(out, s)
	}
	return out
}

// OnlyStatuses reports whether every action left is a Status: the
// executor shows statuses once the rest of the outbox is done, when they
// no longer change within the pass.
func OnlyStatuses(actions Actions) bool {
	for _, a := range actions {
		if _, ok := a.(Status); !ok {
			return false
		}
	}
	return true
}

// repeatKey names what a build or a pipeline start is for, so that a
// repeat of it in one outbox is seen; "" for other actions.
func repeatKey(a Action) string {
	switch a := a.(type) {
	case BuildCar:
		return fmt.Sprintf("build %d %s %s %d", a.MR, a.Base, a.HeadSHA, a.Build)
	case StartPipeline:
		return fmt.Sprintf("start %d %s", a.MR, a.Commit)
	}
	return ""
}
