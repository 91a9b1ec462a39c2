// Package lanes splits a branch's merge train by the paths an MR changes.
//
// A lane is a name and a list of path patterns. An MR joins the lanes whose
// patterns match its files; an MR that touches paths in no lane, or whose
// files are unknown, joins every lane, since nothing then proves it cannot
// break the others. The package is pure: it neither reads a repository nor
// asks a forge for the files.
//
// Patterns are slash-separated paths relative to the repository root. Each
// segment is matched with path.Match (`*`, `?`, `[...]`, `\` escapes), so `*`
// never crosses a `/`. A segment that is exactly `**` matches zero or more
// whole segments, except at the end of a pattern, where it matches one or
// more: `dir/**` and `dir/` mean the files under dir, not a file named dir,
// as in .gitignore. Matching is case-sensitive, like git.
package lanes

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Lane is one lane of a train as configured.
type Lane struct {
	Name  string   `json:"name" yaml:"name"`
	Paths []string `json:"paths" yaml:"paths"`
}

// doubleStar is the segment that spans directories.
const doubleStar = "**"

// Limits on a pattern, which a repository's own file may set: matching
// costs up to the segments of a pattern times those of a path.
const (
	MaxPatternLen = 256
	MaxSegments   = 32
)

// maxWork bounds the work one classification may do: the segments of
// every pattern times those of every file, and the bytes of every
// pattern times those of every file (matching one segment against
// another costs up to their lengths multiplied: a "*aaa...ab" pattern
// against long names). An MR too large for it, against lanes with many
// patterns, touches every lane rather than holding its train.
const (
	maxWork     = 5_000_000
	maxByteWork = 200_000_000
)

// nameRE keeps names to what fits in one component of a git ref and reads
// well in a branch name.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// ValidPattern reports why p is not a usable lane pattern, or nil.
func ValidPattern(p string) error {
	if _, err := compile(p); err != nil {
		return fmt.Errorf("pattern %q: %w", p, err)
	}
	return nil
}

// Match reports whether file, a slash-separated path relative to the
// repository root as git prints it, matches pattern. A pattern that
// ValidPattern refuses matches nothing.
func Match(pattern, file string) bool {
	segs, err := compile(pattern)
	return err == nil && segs.match(file)
}

// pattern is a compiled pattern: its segments, with a trailing `**` already
// rewritten so that matching needs no special case for it.
type pattern []string

// compile checks p and splits it into segments.
func compile(p string) (pattern, error) {
	switch {
	case p == "":
		return nil, fmt.Errorf("empty")
	case len(p) > MaxPatternLen:
		return nil, fmt.Errorf("longer than %d bytes", MaxPatternLen)
	case strings.Count(p, "/") >= MaxSegments:
		return nil, fmt.Errorf("more than %d segments", MaxSegments)
	case strings.HasPrefix(p, "/"):
		return nil, fmt.Errorf(`starts with "/": patterns are relative to the repository root`)
	}
	// A trailing slash names a directory, and a directory stands for the
	// files under it.
	if rest, ok := strings.CutSuffix(p, "/"); ok {
		p = rest + "/" + doubleStar
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if err := checkSegment(s); err != nil {
			return nil, err
		}
	}
	// `dir/**` must not match a file named dir: `*/**` asks for at least
	// one segment and leaves the rest to the zero-or-more rule.
	if segs[len(segs)-1] == doubleStar {
		segs = append(segs[:len(segs)-1], "*", doubleStar)
	}
	return pattern(segs), nil
}

func checkSegment(s string) error {
	switch {
	case s == "":
		return fmt.Errorf(`empty segment (a "//")`)
	case s == "." || s == "..":
		return fmt.Errorf("%q segment: patterns are relative to the repository root", s)
	case s == doubleStar:
		return nil
	case strings.Contains(s, doubleStar):
		// Reading `a**` as `a*` would hide a typo for `a/**`.
		return fmt.Errorf(`segment %q: "**" must be a whole segment; use "*" within a segment`, s)
	}
	// path.Match checks the whole pattern, even when the name fails early.
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Errorf("bad syntax in segment %q: %w", s, err)
	}
	return nil
}

// match runs the classic wildcard algorithm over segments: on a mismatch it
// backtracks only to the latest `**`, which keeps it linear in the segments
// for each `**` instead of exponential in their number. File names come
// from MRs, so their depth is not ours to choose.
func (p pattern) match(file string) bool {
	if file == "" {
		return false
	}
	return p.matchSegments(strings.Split(file, "/"))
}

// matchSegments is match on a path already split at its slashes.
func (p pattern) matchSegments(name []string) bool {
	pi, ni := 0, 0
	starP, starN := -1, 0
	for ni < len(name) {
		switch {
		case pi < len(p) && p[pi] == doubleStar:
			starP, starN = pi, ni
			pi++
		case pi < len(p) && matchSegment(p[pi], name[ni]):
			pi++
			ni++
		case starP >= 0:
			starN++
			pi, ni = starP+1, starN
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == doubleStar {
		pi++
	}
	return pi == len(p)
}

func matchSegment(glob, name string) bool {
	ok, _ := path.Match(glob, name) // compile checked the syntax
	return ok
}

// ValidName reports why name cannot name a lane, or nil: lane names
// become parts of git ref names.
func ValidName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("name is empty")
	case !nameRE.MatchString(name):
		return fmt.Errorf("name must be 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
	// The expression lets through what git check-ref-format refuses.
	case strings.Contains(name, ".."), strings.HasSuffix(name, "."), strings.HasSuffix(name, ".lock"):
		return fmt.Errorf(`name cannot contain "..", or end with "." or ".lock", as it becomes part of a git ref`)
	}
	return nil
}

// Classify returns the names of the lanes, in the order of ls, whose
// patterns match at least one of files, and the files no lane matches,
// sorted and unique. It decides nothing: an MR with files outside every
// lane, or with no files at all, goes on every lane, which Of applies. An
// invalid pattern (see ValidPattern) matches nothing.
// tooBig reports that the work would exceed maxWork, and nothing else.
func Classify(ls []Lane, files []string) (touched []string, outside []string, tooBig bool) {
	compiled := make([][]pattern, len(ls))
	patternSegs, patternBytes := 0, 0
	for i, l := range ls {
		for _, p := range l.Paths {
			if c, err := compile(p); err == nil {
				compiled[i] = append(compiled[i], c)
				patternSegs += len(c)
				patternBytes += len(p)
			}
		}
	}
	fileSegs, fileBytes := 0, 0
	for _, f := range files {
		fileSegs += strings.Count(f, "/") + 1
		fileBytes += len(f)
		if fileSegs*patternSegs > maxWork || fileBytes*patternBytes > maxByteWork {
			return nil, nil, true
		}
	}
	hit := make([]bool, len(ls))
	for _, f := range files {
		segs := strings.Split(f, "/")
		inLane := false
		for i, pats := range compiled {
			// A lane already touched matters again only to place f.
			if hit[i] && inLane {
				continue
			}
			if f != "" && slices.ContainsFunc(pats, func(p pattern) bool { return p.matchSegments(segs) }) {
				hit[i], inLane = true, true
			}
		}
		if !inLane {
			outside = append(outside, f)
		}
	}
	for i, l := range ls {
		if hit[i] {
			touched = append(touched, l.Name)
		}
	}
	slices.Sort(outside)
	return touched, slices.Compact(outside), false
}

// Of returns the names of the lanes an MR changing files joins: those it
// touches, or every lane when a file lies outside all of them or files is
// empty (an MR whose files are unknown, or one changing nothing, cannot be
// shown to stay within a lane).
func Of(ls []Lane, files []string) []string {
	touched, outside, tooBig := Classify(ls, files)
	if !tooBig && len(files) > 0 && len(outside) == 0 {
		return touched
	}
	all := make([]string, len(ls))
	for i, l := range ls {
		all[i] = l.Name
	}
	return all
}
