package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

func TestParseRepoFileRefusesWhatItMayNotSet(t *testing.T) {
	tests := []struct {
		name, forge, file string
		want              string // the error; "" for none
	}{
		{name: "empty", forge: ForgeGitLab, file: ""},
		{name: "every key", forge: ForgeGitHub, file: "method: squash\nmax_parallel: 4\nbatch_size: 2\nmin_window: 1\n" +
			"freezes: ['2026-12-24 2026-12-27 UTC Holidays']\nmerge_windows: ['Mon-Fri 09:00-17:00 UTC']\nrequired_checks: [ci/test]\n"},
		{name: "a key of the operator's", forge: ForgeGitLab, file: "method: merge\nmin_access: guest\n",
			want: `config .trainyard.yml: line 2: unknown field "min_access"`},
		{name: "a secret", forge: ForgeGitLab, file: "webhook_secret: x\n",
			want: `config .trainyard.yml: line 1: unknown field "webhook_secret"`},
		{name: "whose checks count", forge: ForgeGitHub, file: "required_checks: [ext/ci]\nstatus_creators: [mallory]\n",
			want: `config .trainyard.yml: line 2: unknown field "status_creators"`},
		{name: "which apps count", forge: ForgeGitHub, file: "check_apps: [evil-ci]\n",
			want: `config .trainyard.yml: line 1: unknown field "check_apps"`},
		{name: "bad values, each named with its line", forge: ForgeGitLab, file: "method: octopus\nbatch_size: 0\nmerge_windows: ['Mon 09:00-09:00 UTC']\n",
			want: "config .trainyard.yml: 3 problems:\n  method (line 1): must be merge, squash or rebase, got \"octopus\"\n  batch_size (line 2): must be at least 1, got 0\n  merge_windows[0] (line 3): hours \"09:00-09:00\" make an empty window"},
		{name: "GitHub's checks on GitLab", forge: ForgeGitLab, file: "required_checks: [ci]\n",
			want: "config .trainyard.yml: required_checks (line 1): only GitHub projects have it"},
		{name: "not a mapping", forge: ForgeGitLab, file: "- method\n",
			want: "config .trainyard.yml: line 1: the file must be a mapping of settings, got a list"},
		{name: "too long", forge: ForgeGitLab, file: "# " + strings.Repeat("x", MaxRepoFile),
			want: "config .trainyard.yml: the file is 65538 bytes long; at most 65536 are read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseRepoFile([]byte(tt.file), tt.forge)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want == "":
				if f == nil {
					t.Fatal("no file and no error")
				}
			case err == nil:
				t.Fatalf("no error, want %q", tt.want)
			case !strings.HasPrefix(err.Error(), tt.want):
				t.Fatalf("error:\n%v\nwant it to start with:\n%s", err, tt.want)
			}
		})
	}
}

func TestRepoSettingsStayWithinTheService(t *testing.T) {
	c := Defaults()
	c.Train.MaxParallel, c.Train.BatchSize = 10, 4
	c.Projects = []Project{{Forge: ForgeGitLab, Path: "group/app",
		Freezes: []string{"2026-01-01 2026-01-02 UTC New year"}, MergeWindows: []string{"Mon-Sun 08:00-20:00 UTC"}}}
	f, err := ParseRepoFile([]byte("max_parallel: 50\nbatch_size: 2\nmin_window: 30\nmethod: rebase\n"+
		"freezes: ['2026-03-01 2026-03-02 UTC Migration']\nmerge_windows: ['Mon-Fri 09:00-17:00 UTC']\n"), ForgeGitLab)
	if err != nil {
		t.Fatal(err)
	}
	s := c.RepoSettings(ForgeGitLab, "group/app", f)
	if s.MaxParallel != 10 || s.BatchSize != 2 || s.MinWindow != 10 || s.Method != train.MethodRebase {
		t.Fatalf("settings = %+v: max_parallel may only go down, batch_size too, the floor within the window", s)
	}
	if len(s.Schedule.Freezes) != 2 || s.Schedule.Freezes[1].Reason != "Migration" {
		t.Fatalf("freezes = %+v, want the service's and the file's", s.Schedule.Freezes)
	}
	// Saturday noon: open for the service, closed for the file.
	sat := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	if h, held := s.Schedule.Active(sat); !held || h.Kind != train.HoldWindow || h.Reason != "Mon-Fri 09:00-17:00 UTC" {
		t.Fatalf("hold on Saturday = %+v, %v; want the file's window to hold", h, held)
	}
	// Monday 19:00: open for the service, closed for the file.
	if _, held := s.Schedule.Active(time.Date(2026, 3, 9, 19, 0, 0, 0, time.UTC)); !held {
		t.Fatal("Monday 19:00 is outside the file's window")
	}
	if _, held := s.Schedule.Active(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)); held {
		t.Fatal("Monday 10:00 is inside both windows")
	}
	if got := c.RepoSettings(ForgeGitLab, "group/app", nil); got.Method != train.MethodMerge || len(got.Schedule.Freezes) != 1 {
		t.Fatalf("without a file: %+v", got)
	}
}

func TestRepoFileCanBeTurnedOff(t *testing.T) {
	off := false
	c := Defaults()
	c.Projects = []Project{{Forge: ForgeGitLab, Path: "group/app", RepoFile: &off}, {Forge: ForgeGitLab, Path: "group/other"}}
	if c.RepoFileAllowed(ForgeGitLab, "group/app") || !c.RepoFileAllowed(ForgeGitLab, "group/other") {
		t.Fatal("repository_settings: false must turn the file off, and only for its project")
	}
}

func TestBranchListed(t *testing.T) {
	c := Defaults()
	c.Projects = []Project{{Forge: ForgeGitLab, Path: "group/app", Branches: []string{"main", "release/*"}}, {Forge: ForgeGitLab, Path: "group/any"}}
	for _, tt := range []struct {
		project, branch string
		want            bool
	}{
		{"group/app", "main", true}, {"group/app", "release/1", true}, {"group/app", "feature-1", false},
		// No branches: every branch may run a train, none is named.
		{"group/any", "main", false}, {"group/other", "main", false},
	} {
		if got := c.BranchListed(ForgeGitLab, tt.project, tt.branch); got != tt.want {
			t.Errorf("BranchListed(%s, %s) = %v, want %v", tt.project, tt.branch, got, tt.want)
		}
	}
}

// A file of many problems is told in brief: the first ten, each cut, and
// how many more.
func TestRepoFileRefusalInBrief(t *testing.T) {
	var b strings.Builder
	for i := range 25 {
		fmt.Fprintf(&b, "unknown_%02d: 1\n", i)
	}
	fmt.Fprintf(&b, "method: %s\n", strings.Repeat("x", 1000))
	_, err := ParseRepoFile([]byte(b.String()), "gitlab")
	ce, ok := errors.AsType[*Error](err)
	if !ok || len(ce.Problems) != 26 {
		t.Fatalf("err = %v, want 26 problems", err)
	}
	got := ce.Brief()
	lines := strings.Split(got, "\n")
	if want := "config .trainyard.yml: 26 problems, the first 10:"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	if len(lines) != 12 || lines[1] != `  line 1: unknown field "unknown_00"` || lines[11] != "  … and 16 more" {
		t.Errorf("brief =\n%s", got)
	}
	long := &Error{Source: RepoFileName, Problems: []error{errors.New(strings.Repeat("é", 400))}}
	if got := long.Brief(); len(got) > len("config .trainyard.yml: ")+300 || !strings.HasSuffix(got, "é…") {
		t.Errorf("a long problem is %d bytes: %q", len(got), got)
	}
	one := &Error{Source: RepoFileName, Problems: []error{errors.New("bad")}}
	if got := one.Brief(); got != one.Error() {
		t.Errorf("a short error in brief is %q, want %q", got, one.Error())
	}
}

// A file of one key set over and over, as long as a file may be, costs
// one pass: each repeat is one problem against the first, the first
// hundred listed and the rest counted. (Every pair of repeats was a
// problem, a few gigabytes of them for a file under the size limit.)
func TestParseRepoFileWithARepeatedKey(t *testing.T) {
	n := MaxRepoFile / len("a: 1\n")
	_, err := ParseRepoFile([]byte(strings.Repeat("a: 1\n", n)), ForgeGitLab)
	var cfgErr *Error
	if !errors.As(err, &cfgErr) {
		t.Fatalf("err = %v, want the file's problems", err)
	}
	if len(cfgErr.Problems) != maxProblems+1 {
		t.Fatalf("%d problems listed, want %d and a count of the rest", len(cfgErr.Problems), maxProblems+1)
	}
	last := cfgErr.Problems[len(cfgErr.Problems)-1].Error()
	if want := fmt.Sprintf("%d more problems not listed", n-1-maxProblems); last != want {
		t.Fatalf("last problem %q, want the count of those not listed", last)
	}
	if got := cfgErr.Problems[1].Error(); got != `line 3: field "a" set twice (first on line 1)` {
		t.Fatalf("the second repeat is reported as %q", got)
	}
}
