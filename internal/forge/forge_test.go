package forge

import "testing"

func TestAccessLevelNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want AccessLevel
	}{
		{"developer", Developer}, {"Maintainer", Maintainer}, {" OWNER ", Owner},
		{"10", Guest}, {"20", Reporter}, {"none", NoAccess}, {"0", NoAccess},
		{"read", Guest}, {"triage", Reporter}, {"Write", Developer}, {"maintain", Maintainer}, {"admin", Owner},
	} {
		got, err := ParseAccessLevel(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseAccessLevel(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "administrator", "35", "-1"} {
		if _, err := ParseAccessLevel(bad); err == nil {
			t.Errorf("ParseAccessLevel(%q) succeeded", bad)
		}
	}
	for l, want := range map[AccessLevel]string{Guest: "guest", Developer: "developer", Owner: "owner", 35: "35"} {
		if got := l.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(l), got, want)
		}
	}
	for _, n := range levelNames {
		back, err := ParseAccessLevel(n.level.String())
		if err != nil || back != n.level {
			t.Errorf("round trip of %d: %v, %v", int(n.level), back, err)
		}
	}
}

func TestGitHubRoles(t *testing.T) {
	for l, want := range map[AccessLevel]string{NoAccess: "none", Guest: "read", Reporter: "triage", Developer: "write", 35: "write", Maintainer: "maintain", Owner: "admin"} {
		if got := l.Role(); got != want {
			t.Errorf("%d.Role() = %q, want %q", int(l), got, want)
		}
	}
}

func TestClipKeepsCharactersWhole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc"},
		{"ab€cd", 3, "ab"}, // € is 3 bytes: cutting inside it keeps none of it
		{"ab€cd", 5, "ab€"},
		{"€", 0, ""},
	} {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// Paths compare with ASCII case alone: Unicode folding would take a
// look-alike for the project.
func TestSameProject(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"group/app", "Group/APP", true},
		{"group/app", "group/app", true},
		{"gitlab-org/gitlab-test", "gitlab-org/gitlab-te\u017ft", false}, // long s
		{"acme/kit", "acme/\u212ait", false},                             // Kelvin sign
		{"group/app", "group/ap", false},
	} {
		if got := SameProject(tc.a, tc.b); got != tc.same {
			t.Errorf("SameProject(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
	if got := ProjectKey("Group/Ǆ-App"); got != "group/Ǆ-app" {
		t.Errorf("ProjectKey = %q, want ASCII letters lowered only", got)
	}
}
