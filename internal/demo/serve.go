package demo

import (
	"fmt"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

// serving is where the system left up after the train is reached, and
// what to type to drive it by hand.
type serving struct {
	Dashboard    string // the service's URL: dashboard at /, API under /api/v1/
	Token        string // the API token
	Forge        string // the fake forge's URL
	ControlToken string
	// ForgeName is the forge the train runs on; the train commands need
	// it unless it is GitLab.
	ForgeName       string
	Project, Branch string
	// Next is the number the next MR opened gets; Author may use the train.
	Next   int64
	Author string
}

// lines are what the demo prints once the system is left up.
func (s serving) lines() []string {
	forge := ""
	if s.ForgeName != ForgeGitLab {
		forge = " --forge " + s.ForgeName
	}
	next, broken := s.Next, s.Next+1
	return []string{
		"",
		"Trainyard and the fake forge stay up until Ctrl-C:",
		fmt.Sprintf("  dashboard      %s/  (sign in with the API token to pause, resume, remove or retry)", s.Dashboard),
		fmt.Sprintf("  API token      %s", s.Token),
		fmt.Sprintf("  fake forge     %s  (control API at %s%s)", s.Forge, s.Forge, fakeforge.ControlPrefix),
		fmt.Sprintf("  control token  %s", s.ControlToken),
		"",
		"Drive them from another shell (docs/playground.md): open merge requests, add them, watch the train:",
		fmt.Sprintf("  export TRAINYARD_SERVER=%s TRAINYARD_TOKEN=%s", s.Dashboard, s.Token),
		fmt.Sprintf("  export FAKEFORGE_URL=%s FAKEFORGE_TOKEN=%s", s.Forge, s.ControlToken),
		fmt.Sprintf("  trainyard fakeforge mr open %s feature-%d --author %s --title 'Add feature %d' --file features/feature-%d.txt=%d",
			s.Project, next, s.Author, next, next, next),
		fmt.Sprintf("  trainyard fakeforge mr comment %s %d '/train add' --author %s", s.Project, next, s.Author),
		fmt.Sprintf("  trainyard fakeforge mr open %s broken-%d --author %s --fail", s.Project, broken, s.Author),
		fmt.Sprintf("  trainyard train add %s %d%s", s.Project, broken, forge),
		"  trainyard train list",
		fmt.Sprintf("  trainyard train show %s %s%s", s.Project, s.Branch, forge),
		fmt.Sprintf("  trainyard fakeforge pipeline list %s", s.Project),
		"",
		"What the train does goes on below.",
	}
}
