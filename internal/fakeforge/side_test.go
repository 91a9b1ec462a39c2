package fakeforge

import (
	"slices"
	"strings"
	"testing"
)

func TestSides(t *testing.T) {
	if _, err := SideOf("gitea"); err == nil || !strings.Contains(err.Error(), `no "gitea" side`) {
		t.Fatalf("SideOf(gitea) = %v", err)
	}
	gl, err := SideOf(HookGitLab)
	if err != nil {
		t.Fatal(err)
	}
	gh, err := SideOf(HookGitHub)
	if err != nil {
		t.Fatal(err)
	}
	checks := []string{"ci/test"}
	if got := gl.RequiredChecks(checks); got != nil {
		t.Errorf("GitLab requires checks %v", got)
	}
	if got := gh.RequiredChecks(checks); !slices.Equal(got, checks) {
		t.Errorf("GitHub requires checks %v", got)
	}
	if o := gl.WithChecks(Options{}, []string{"b/**"}, checks); len(o.GitHub.Actions.Checks) != 0 {
		t.Errorf("GitLab side set Actions: %+v", o.GitHub.Actions)
	}
	if o := gh.WithChecks(Options{}, []string{"b/**"}, checks); !slices.Equal(o.GitHub.Actions.Checks, checks) || !slices.Equal(o.GitHub.Actions.Branches, []string{"b/**"}) {
		t.Errorf("GitHub side Actions: %+v", o.GitHub.Actions)
	}
}
