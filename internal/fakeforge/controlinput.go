package fakeforge

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Validation of what the control API is sent. Names end up as directory
// names, git ref names and fast-import input, so each is held to a small
// alphabet and a length rather than trusted to the layers below.

const (
	maxPathLen     = 255
	maxNameLen     = 64
	maxBranchLen   = 200
	maxFilePathLen = 1024
	maxFiles       = 500
	maxTitleLen    = 255
	maxTokenLen    = 256
)

var (
	segmentRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	branchRE   = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
	tokenRE    = regexp.MustCompile(`^[\x21-\x7e]+$`)
)

// roles names GitLab's access levels.
var roles = []struct {
	name  string
	level int
}{
	{"none", NoAccess}, {"guest", Guest}, {"reporter", Reporter},
	{"developer", Developer}, {"maintainer", Maintainer}, {"owner", Owner},
}

// accessLevel reads a role name or its number.
func accessLevel(s string) (int, error) {
	for _, r := range roles {
		if strings.EqualFold(s, r.name) || s == strconv.Itoa(r.level) {
			return r.level, nil
		}
	}
	return 0, fmt.Errorf("%q: want none, guest, reporter, developer, maintainer or owner (or 0, 10, 20, 30, 40, 50)", s)
}

func roleName(level int) string {
	for _, r := range roles {
		if r.level == level {
			return r.name
		}
	}
	return strconv.Itoa(level)
}

// validProjectPath accepts group/name, with nested groups.
func validProjectPath(p string) error {
	bad := func(why string) error {
		return badInput("path %q: %s; want group/name, such as acme/widgets", p, why)
	}
	switch {
	case p == "":
		return badInput("path: is empty; want group/name, such as acme/widgets")
	case len(p) > maxPathLen:
		return bad(fmt.Sprintf("longer than %d characters", maxPathLen))
	case !strings.Contains(p, "/"):
		return bad("has no group")
	case strings.HasSuffix(p, ".git"), strings.Contains(p, ".git/"):
		return bad("a segment ends in .git")
	}
	for seg := range strings.SplitSeq(p, "/") {
		if !segmentRE.MatchString(seg) || strings.Contains(seg, "..") {
			return bad("each segment must start with a letter or digit and hold only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// validUsername accepts GitLab-like usernames; field names the input.
func validUsername(field, name string) error {
	switch {
	case name == "":
		return badInput("%s: is empty", field)
	case len(name) > maxNameLen:
		return badInput("%s %q: longer than %d characters", field, name, maxNameLen)
	case !usernameRE.MatchString(name):
		return badInput("%s %q: must start with a letter or digit and hold only letters, digits, '.', '_' and '-'", field, name)
	}
	return nil
}

// validBranch accepts the branch names git accepts, from a smaller
// alphabet.
func validBranch(field, b string) error {
	bad := func(why string) error { return badInput("%s %q: %s", field, b, why) }
	switch {
	case b == "":
		return badInput("%s: is empty", field)
	case len(b) > maxBranchLen:
		return bad(fmt.Sprintf("longer than %d characters", maxBranchLen))
	case !branchRE.MatchString(b):
		return bad("may hold only letters, digits, '.', '_', '-' and '/'")
	case strings.HasPrefix(b, "-"), strings.HasPrefix(b, "/"), strings.HasSuffix(b, "/"),
		strings.HasSuffix(b, "."), strings.HasSuffix(b, ".lock"), strings.Contains(b, ".."),
		strings.Contains(b, "//"), strings.Contains(b, "/."), strings.HasPrefix(b, "."):
		return bad("is not a valid git branch name")
	}
	return nil
}

// validFiles checks the paths a commit writes and deletes.
func validFiles(field string, files map[string]string, deleted []string) error {
	if len(files)+len(deleted) > maxFiles {
		return badInput("%s: more than %d files in one commit", field, maxFiles)
	}
	paths := append(slices.Collect(maps.Keys(files)), deleted...)
	for _, p := range paths {
		if err := validFilePath(p); err != nil {
			return badInput("%s: %v", field, err)
		}
	}
	return nil
}

func validFilePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("a file path is empty")
	case len(p) > maxFilePathLen:
		return fmt.Errorf("file path %.40q...: longer than %d characters", p, maxFilePathLen)
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("file path %q: holds a control character", p)
	case strings.HasPrefix(p, "/"), strings.HasSuffix(p, "/"), strings.HasPrefix(p, "\""):
		return fmt.Errorf("file path %q: want a relative path such as docs/notes.md", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.EqualFold(seg, ".git") {
			return fmt.Errorf("file path %q: segments may not be empty, '.', '..' or '.git'", p)
		}
	}
	return nil
}

func validToken(t string) error {
	switch {
	case len(t) < 8 || len(t) > maxTokenLen:
		return badInput("token: want 8 to %d characters", maxTokenLen)
	case !tokenRE.MatchString(t):
		return badInput("token: may hold only printable ASCII characters, no spaces")
	}
	return nil
}

// validText bounds a one-line or free text field.
func validText(field, s string, max int) error {
	if len(s) > max {
		return badInput("%s: longer than %d bytes", field, max)
	}
	return nil
}

// positive reads a path's number.
func positive(what, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, badInput("%s %q: want a positive number", what, s)
	}
	return n, nil
}
