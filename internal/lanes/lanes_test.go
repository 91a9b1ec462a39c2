package lanes

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern string
		yes, no []string
	}{
		{
			pattern: "services/api/**",
			yes:     []string{"services/api/x.go", "services/api/a/b/c.go", "services/api/.env"},
			no:      []string{"services/apix/y.go", "services/api", "services", "services/web/api/x.go", "Services/api/x.go", "x/services/api/y.go"},
		},
		{
			pattern: "docs/",
			yes:     []string{"docs/x/y.md", "docs/a.md"},
			no:      []string{"docs", "docsx/a.md", "a/docs/b.md"},
		},
		{
			pattern: "**/*.md",
			yes:     []string{"README.md", "docs/a/b.md", "a/.md"},
			no:      []string{"README.MD", "docs/a.md/x", "README.markdown"},
		},
		{
			pattern: "*.go",
			yes:     []string{"main.go", ".go"},
			no:      []string{"cmd/main.go", "main.go/x", "main.gox"},
		},
		{
			pattern: "a/**/b",
			yes:     []string{"a/b", "a/x/b", "a/x/y/z/b", "a/b/b"},
			no:      []string{"a/b/c", "b", "x/a/b", "a/xb", "ab"},
		},
		{
			pattern: "**/testdata/**",
			yes:     []string{"testdata/x", "a/testdata/x", "a/b/testdata/c/d"},
			no:      []string{"testdata", "a/testdata", "a/testdatax/y"},
		},
		{
			pattern: "**",
			yes:     []string{"x", "a/b/c"},
			no:      []string{""},
		},
		{
			pattern: "**/Makefile",
			yes:     []string{"Makefile", "a/Makefile", "a/b/Makefile"},
			no:      []string{"makefile", "Makefile/x", "aMakefile"},
		},
		{
			pattern: "a/**/b/**/c",
			yes:     []string{"a/b/c", "a/x/b/y/c", "a/b/b/c", "a/x/b/b/y/c"},
			no:      []string{"a/c", "a/b/c/d", "a/x/c"},
		},
		{
			pattern: "a/**/**/b",
			yes:     []string{"a/b", "a/x/b", "a/x/y/b"},
			no:      []string{"a/x", "b"},
		},
		{
			pattern: "LICENSE",
			yes:     []string{"LICENSE"},
			no:      []string{"LICENSE/x", "a/LICENSE", "license"},
		},
		{
			pattern: "web/*",
			yes:     []string{"web/index.html", "web/a"},
			no:      []string{"web", "web/a/b"},
		},
		{
			pattern: "svc-[ab]/**",
			yes:     []string{"svc-a/x", "svc-b/y/z"},
			no:      []string{"svc-c/x", "svc-ab/x", "svc-A/x"},
		},
		{
			pattern: "svc-[^a]/*.go",
			yes:     []string{"svc-b/x.go", "svc-1/y.go"},
			no:      []string{"svc-a/x.go", "svc-/x.go"},
		},
		{
			pattern: "v?/**",
			yes:     []string{"v1/x", "v2/a/b"},
			no:      []string{"v10/x", "v/x"},
		},
		{
			pattern: `lit\*/x`,
			yes:     []string{"lit*/x"},
			no:      []string{"litx/x"},
		},
		{
			pattern: "with space/**",
			yes:     []string{"with space/a b.txt"},
			no:      []string{"with/space/a"},
		},
		{
			pattern: "café/**",
			yes:     []string{"café/menu.md"},
			no:      []string{"cafe/menu.md"},
		},
	} {
		if err := ValidPattern(tc.pattern); err != nil {
			t.Errorf("ValidPattern(%q) = %v, want nil", tc.pattern, err)
		}
		for _, f := range tc.yes {
			if !Match(tc.pattern, f) {
				t.Errorf("Match(%q, %q) = false, want true", tc.pattern, f)
			}
		}
		for _, f := range tc.no {
			if Match(tc.pattern, f) {
				t.Errorf("Match(%q, %q) = true, want false", tc.pattern, f)
			}
		}
	}
}

// TestMatchTrailingSlashIsDoubleStar pins that `dir/` and `dir/**` are one
// pattern.
func TestMatchTrailingSlashIsDoubleStar(t *testing.T) {
	t.Parallel()
	files := []string{"web", "web/a", "web/a/b", "webx/a", "x/web/a"}
	for _, f := range files {
		if a, b := Match("web/", f), Match("web/**", f); a != b {
			t.Errorf("%q: Match(web/) = %v, Match(web/**) = %v", f, a, b)
		}
	}
}

// TestMatchDeepPath guards the matcher against backtracking blow-up: many
// `**` against a deep path that almost matches.
func TestMatchDeepPath(t *testing.T) {
	t.Parallel()
	file := strings.Repeat("a/", 2000) + "c"
	if Match("**/a/**/a/**/a/**/a/**/a/**/b", file) {
		t.Error("matched a path without b")
	}
	if !Match("**/a/**/a/**/a/**/a/**/a/**/c", file) {
		t.Error("did not match the deep path")
	}
}

func TestValidPattern(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern string
		want    string // "" for valid
		bad     bool   // the error wraps path.ErrBadPattern
	}{
		{pattern: "web/**"},
		{pattern: "web/"},
		{pattern: "**"},
		{pattern: "**/"},
		{pattern: "a/**/b"},
		{pattern: ".github/**"},
		{pattern: "a/.hidden"},
		{pattern: "a..b/c"},
		{pattern: "[a-z]*/x"},
		{pattern: "", want: `pattern "": empty`},
		{pattern: "/web", want: `pattern "/web": starts with "/"`},
		{pattern: "/", want: `starts with "/"`},
		{pattern: "./web", want: `"." segment`},
		{pattern: "web/../etc", want: `".." segment`},
		{pattern: "..", want: `".." segment`},
		{pattern: "a//b", want: "empty segment"},
		{pattern: "web//", want: "empty segment"},
		{pattern: "a**", want: `segment "a**": "**" must be a whole segment`},
		{pattern: "a/**b/c", want: `segment "**b"`},
		{pattern: "***", want: `segment "***"`},
		{pattern: "a/[b", want: `pattern "a/[b": bad syntax in segment "[b"`, bad: true},
		{pattern: "a[/]b", want: "bad syntax", bad: true},
		{pattern: `a\`, want: "bad syntax", bad: true},
		{pattern: "x/[]a", want: "bad syntax", bad: true},
	} {
		err := ValidPattern(tc.pattern)
		if tc.want == "" {
			if err != nil {
				t.Errorf("ValidPattern(%q) = %v, want nil", tc.pattern, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidPattern(%q) = %v, want an error with %q", tc.pattern, err, tc.want)
			continue
		}
		if got := errors.Is(err, path.ErrBadPattern); got != tc.bad {
			t.Errorf("ValidPattern(%q): errors.Is(err, path.ErrBadPattern) = %v, want %v", tc.pattern, got, tc.bad)
		}
		if Match(tc.pattern, "web/x") || Match(tc.pattern, "a/b") {
			t.Errorf("invalid pattern %q matched", tc.pattern)
		}
	}
}

// Lane names become parts of git refs: git's rules and a short, plain
// alphabet.
func TestValidName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"api", "web", "0-infra_2.x", strings.Repeat("a", 63)} {
		if err := ValidName(name); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", name, err)
		}
	}
	for name, want := range map[string]string{
		"":                      "name is empty",
		"Web":                   "name must be",
		"my lane":               "name must be",
		"a/b":                   "name must be",
		"-web":                  "name must be",
		".web":                  "name must be",
		strings.Repeat("a", 64): "name must be",
		"web\n":                 "name must be",
		"a..b":                  `name cannot contain ".."`,
		"web.lock":              "git ref",
		"web.":                  "git ref",
	} {
		if err := ValidName(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidName(%q) = %v, want an error with %q", name, err, want)
		}
	}
}

var testLanes = []Lane{
	{Name: "api", Paths: []string{"services/api/**", "proto/api.proto"}},
	{Name: "web", Paths: []string{"web/", "**/*.css"}},
	{Name: "docs", Paths: []string{"docs/", "**/*.md"}},
}

func TestClassifyAndOf(t *testing.T) {
	t.Parallel()
	all := []string{"api", "web", "docs"}
	for _, tc := range []struct {
		name                    string
		files                   []string
		touched, outside, joins []string
	}{
		{
			name:    "one lane",
			files:   []string{"services/api/main.go", "proto/api.proto"},
			touched: []string{"api"},
			joins:   []string{"api"},
		},
		{
			name:    "two lanes in config order",
			files:   []string{"docs/intro.md", "web/app.ts"},
			touched: []string{"web", "docs"},
			joins:   []string{"web", "docs"},
		},
		{
			name:    "one file in two lanes",
			files:   []string{"services/api/README.md"},
			touched: []string{"api", "docs"},
			joins:   []string{"api", "docs"},
		},
		{
			name:    "css anywhere",
			files:   []string{"services/api/static/x.css", "web/a.css"},
			touched: []string{"api", "web"},
			joins:   []string{"api", "web"},
		},
		{
			name:    "outside joins every lane",
			files:   []string{"web/a.ts", "go.mod", "Makefile", "go.mod"},
			touched: []string{"web"},
			outside: []string{"Makefile", "go.mod"},
			joins:   all,
		},
		{
			name:    "only outside",
			files:   []string{"services/apix/main.go"},
			outside: []string{"services/apix/main.go"},
			joins:   all,
		},
		{
			name:  "no files joins every lane",
			files: nil,
			joins: all,
		},
		{
			name:    "case matters",
			files:   []string{"Web/a.ts"},
			outside: []string{"Web/a.ts"},
			joins:   all,
		},
	} {
		touched, outside, _ := Classify(testLanes, tc.files)
		if !slices.Equal(touched, tc.touched) || !slices.Equal(outside, tc.outside) {
			t.Errorf("%s: Classify = %q, %q, want %q, %q", tc.name, touched, outside, tc.touched, tc.outside)
		}
		if got := Of(testLanes, tc.files); !slices.Equal(got, tc.joins) {
			t.Errorf("%s: Of = %q, want %q", tc.name, got, tc.joins)
		}
	}
}

func TestClassifyNoLanes(t *testing.T) {
	t.Parallel()
	touched, outside, _ := Classify(nil, []string{"b", "a", "b"})
	if len(touched) != 0 || !slices.Equal(outside, []string{"a", "b"}) {
		t.Errorf("Classify(nil) = %q, %q, want none touched and [a b] outside", touched, outside)
	}
	if got := Of(nil, []string{"a"}); len(got) != 0 {
		t.Errorf("Of(nil) = %q, want none", got)
	}
}

// TestClassifyDoesNotKeepInput checks that outside is a copy: sorting it must
// not reorder the caller's files.
func TestClassifyDoesNotKeepInput(t *testing.T) {
	t.Parallel()
	files := []string{"z", "a"}
	Classify(testLanes, files)
	if !slices.Equal(files, []string{"z", "a"}) {
		t.Errorf("files = %q after Classify, want them untouched", files)
	}
}

// Matching costs the segments of every pattern times those of every file:
// past the budget an MR touches every lane, quickly, instead of holding
// its train; and a pattern cannot be made long.
func TestClassifyWithinItsBudget(t *testing.T) {
	t.Parallel()
	var ls []Lane
	for i := range 64 {
		var ps []string
		for j := range 64 {
			ps = append(ps, fmt.Sprintf("**/dir%d_%d/**", i, j))
		}
		ls = append(ls, Lane{Name: fmt.Sprintf("l%d", i), Paths: ps})
	}
	files := make([]string, 10000)
	for i := range files {
		files[i] = fmt.Sprintf("a/b/c/d/e/f/g/file%d.go", i)
	}
	touched, outside, tooBig := Classify(ls, files)
	if !tooBig || touched != nil || outside != nil {
		t.Fatalf("Classify over budget = %d touched, %d outside, tooBig %v", len(touched), len(outside), tooBig)
	}
	if got := Of(ls, files); len(got) != 64 {
		t.Fatalf("an MR over budget touches %d lanes, want all 64", len(got))
	}
	// Within budget, the same lanes classify.
	if got := Of(ls[:1], []string{"x/dir0_3/y.go"}); !slices.Equal(got, []string{"l0"}) {
		t.Fatalf("within budget: %v", got)
	}
	// Few segments, but long ones against patterns made to match them
	// slowly: over the budget in bytes.
	slow := make([]Lane, 64)
	for i := range slow {
		slow[i] = Lane{Name: fmt.Sprintf("s%d", i)}
		for j := range 64 {
			slow[i].Paths = append(slow[i].Paths, "*"+strings.Repeat("a", 240)+fmt.Sprintf("b%d_%d", i, j))
		}
	}
	long := make([]string, 20)
	for i := range long {
		long[i] = strings.Repeat("a", 254)
	}
	if _, _, tooBig := Classify(slow, long); !tooBig {
		t.Fatalf("64 lanes of 64 slow patterns against %d files of 254 bytes: within budget", len(long))
	}
	for _, p := range []string{strings.Repeat("a", MaxPatternLen+1), strings.Repeat("a/", MaxSegments) + "b"} {
		if err := ValidPattern(p); err == nil {
			t.Errorf("pattern of %d bytes, %d segments is valid", len(p), strings.Count(p, "/")+1)
		}
	}
	if err := ValidPattern(strings.Repeat("a/", MaxSegments-1) + "b"); err != nil {
		t.Errorf("a pattern of %d segments: %v", MaxSegments, err)
	}
}
