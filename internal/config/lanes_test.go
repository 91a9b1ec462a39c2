package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/train"
)

func TestLaneProblems(t *testing.T) {
	_, err := Parse([]byte(joinLines(
		"projects:",
		"  - forge: gitlab",
		"    path: g/a",
		"    lanes:",
		"      - api services/api/**",
		"      - web",
		"      - API api/**",
		"      - api libs/**",
		"      - docs /docs/** docs/a**b",
	)), envMap(forgeEnv()), nil)
	wantProblems(t, err,
		`projects[0].lanes[1]: want NAME PATTERN [PATTERN...], like "api services/api/** libs/api/**", got "web"`,
		`projects[0].lanes[2]: lane "API": name must be 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`,
		`projects[0].lanes[3]: lane "api" is already projects[0].lanes[0]`,
		`projects[0].lanes[4]: lane docs: pattern "/docs/**": starts with "/": patterns are relative to the repository root`,
		`projects[0].lanes[4]: lane docs: pattern "docs/a**b": segment "a**b": "**" must be a whole segment; use "*" within a segment`,
	)
}

func TestSettingsLanes(t *testing.T) {
	c := mustParse(t, joinLines(
		"projects:",
		"  - forge: gitlab",
		"    path: g/a",
		"    lanes: [api services/api/** libs/api/, web web/**]",
		"  - forge: gitlab",
		"    path: g/b",
	), forgeEnv())
	want := []train.Lane{{Name: "api", Paths: []string{"services/api/**", "libs/api/"}}, {Name: "web", Paths: []string{"web/**"}}}
	if got := c.Settings(ForgeGitLab, "g/a").Lanes; !reflect.DeepEqual(got, want) {
		t.Errorf("g/a lanes = %+v, want %+v", got, want)
	}
	if got := c.Settings(ForgeGitLab, "g/b").Lanes; got != nil {
		t.Errorf("g/b lanes = %+v, want none", got)
	}
	// The repository's file replaces the service's lanes; without lanes
	// of its own it keeps them.
	f, err := ParseRepoFile([]byte("lanes:\n  - ui frontend/**\n"), ForgeGitLab)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.RepoSettings(ForgeGitLab, "g/a", f).Lanes, []train.Lane{{Name: "ui", Paths: []string{"frontend/**"}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("lanes with the file = %+v, want %+v", got, want)
	}
	f, err = ParseRepoFile([]byte("method: squash\n"), ForgeGitLab)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RepoSettings(ForgeGitLab, "g/a", f).Lanes; !reflect.DeepEqual(got, want) {
		t.Errorf("lanes with a file without lanes = %+v, want the service's %+v", got, want)
	}
	_, err = ParseRepoFile([]byte("method: merge\nlanes: [ok a/**, 'bad']\n"), ForgeGitLab)
	if err == nil || err.Error() != `config .trainyard.yml: lanes[1] (line 2): want NAME PATTERN [PATTERN...], like "api services/api/** libs/api/**", got "bad"` {
		t.Errorf("a bad lane in the file: %v", err)
	}
}

// A repository file cannot make every path of every MR meet an unbounded
// number of patterns.
func TestLaneLimits(t *testing.T) {
	var many strings.Builder
	many.WriteString("lanes:\n")
	for i := range 65 {
		fmt.Fprintf(&many, "  - l%d x%d/\n", i, i)
	}
	if _, err := ParseRepoFile([]byte(many.String()), "gitlab"); err == nil || !strings.Contains(err.Error(), "lanes (line 2): at most 64 lanes, got 65") {
		t.Errorf("65 lanes: %v", err)
	}
	wide := "lanes:\n  - api" + strings.Repeat(" a/", 65) + "\n"
	if _, err := ParseRepoFile([]byte(wide), "gitlab"); err == nil || !strings.Contains(err.Error(), `lanes[0] (line 2): lane "api": at most 64 patterns, got 65`) {
		t.Errorf("65 patterns: %v", err)
	}
}
