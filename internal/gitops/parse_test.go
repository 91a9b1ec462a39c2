package gitops

import (
	"errors"
	"slices"
	"testing"
)

func TestCheckRefName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"main", "release/1.x", "trainyard/main/12", "feature-x", "a.b"} {
		if err := checkRefName(ok); err != nil {
			t.Errorf("checkRefName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "-f", "a..b", "a b", "a:b", "a~1", "a^", "a@{0}", "/a", "a/", "a.lock", ".a", "a//b", "a\tb", "a*", "@"} {
		if err := checkRefName(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("checkRefName(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func TestParseGitVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]int{
		"git version 2.39.5":           {2, 39},
		"git version 2.45.1.windows.1": {2, 45},
		"git version 3.0":              {3, 0},
	} {
		major, minor, ok := parseGitVersion(in)
		if !ok || major != want[0] || minor != want[1] {
			t.Errorf("parseGitVersion(%q) = %d.%d %v, want %d.%d", in, major, minor, ok, want[0], want[1])
		}
	}
	if _, _, ok := parseGitVersion("git version unknown"); ok {
		t.Errorf("parseGitVersion accepted a version without numbers")
	}
}

func TestParseMergeTree(t *testing.T) {
	t.Parallel()
	tree := "d0318d2f310a735648bb1bab8b5469165a9a2da1"
	m, err := parseMergeTree([]byte(tree + "\x00f\x00del\x00f\x00"))
	if err != nil || m.tree != tree || !slices.Equal(m.conflicts, []string{"del", "f"}) {
		t.Errorf("parseMergeTree = %+v, %v", m, err)
	}
	if m, err := parseMergeTree([]byte(tree + "\n")); err != nil || m.tree != tree || m.conflicts != nil {
		t.Errorf("clean parseMergeTree = %+v, %v", m, err)
	}
	if _, err := parseMergeTree([]byte("fatal: nonsense")); err == nil {
		t.Errorf("parseMergeTree accepted garbage")
	}
}

func TestParsePorcelain(t *testing.T) {
	t.Parallel()
	out := "To file:///r.git\n*\tabc:refs/heads/x\t[new branch]\n!\tdef:refs/heads/main\t[rejected] (fetch first)\nDone\n"
	got := parsePorcelain(out)
	want := []pushStatus{{'*', "refs/heads/x", "[new branch]"}, {'!', "refs/heads/main", "[rejected] (fetch first)"}}
	if !slices.Equal(got, want) {
		t.Errorf("parsePorcelain = %+v, want %+v", got, want)
	}
}
