package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/trainyard/trainyard/internal/train"
)

// RepoFileName is the file on a target branch whose settings override
// its project's, within what the service's configuration allows.
const RepoFileName = ".trainyard.yml"

// MaxRepoFile bounds the repository file: anyone who can merge to the
// target branch writes it.
const MaxRepoFile = 64 << 10

// repoFileKeys are the keys of a projects entry a repository file may
// set. Access levels, merge rules, secrets and branches stay with the
// service's operator.
func repoFileKeys() []string {
	return []string{"method", "max_parallel", "batch_size", "min_window", "freezes", "merge_windows", "required_checks", "lanes"}
}

func repoFileSettings() []setting[Project] {
	keys := repoFileKeys()
	var out []setting[Project]
	for _, s := range projectSettings() {
		if slices.Contains(keys, s.path) {
			out = append(out, s)
		}
	}
	return out
}

// RepoFile is a repository file, parsed and checked: a projects entry
// with only the keys the file may set.
type RepoFile struct {
	p Project
}

// ParseRepoFile reads a repository file strictly, for a project of
// forgeName. Its error is an *Error naming each bad field with its line,
// as a bad service configuration's does.
func ParseRepoFile(data []byte, forgeName string) (*RepoFile, error) {
	if len(data) > MaxRepoFile {
		return nil, &Error{Source: RepoFileName, Problems: []error{fmt.Errorf("the file is %d bytes long; at most %d are read", len(data), MaxRepoFile)}}
	}
	table := repoFileSettings()
	file, errs := decodeAs(data, shapeOf("", table))
	if file == nil {
		return nil, &Error{Source: RepoFileName, Problems: errs}
	}
	l := &loader{given: map[string]bool{}, failed: map[string]bool{}}
	l.ps.add(errs...)
	var p Project
	applyNodes(l, &p, table, file.nodes, "")
	var checks []error
	for _, err := range p.repoProblems(forgeName) {
		fe, ok := err.(*FieldError)
		if ok && l.failed[fe.Field] {
			continue
		}
		if ok && fe.Line == 0 {
			// Checks name a field, maybe an item of it: the line is the
			// key's.
			root, _, _ := strings.Cut(fe.Field, "[")
			if n := file.nodes[root]; n != nil {
				fe.Line = n.Line
			}
		}
		checks = append(checks, err)
	}
	// In the order of the file, as its reader goes.
	slices.SortStableFunc(checks, func(a, b error) int { return lineOf(a) - lineOf(b) })
	l.ps.add(checks...)
	if err := l.ps.err(RepoFileName); err != nil {
		return nil, err
	}
	return &RepoFile{p: p}, nil
}

func lineOf(err error) int {
	if fe, ok := err.(*FieldError); ok {
		return fe.Line
	}
	return 0
}

// repoProblems checks what a repository file set; it keeps the parsed
// schedule on p.
func (p *Project) repoProblems(forgeName string) []error {
	var ps problems
	if p.MaxParallel != nil {
		ps.add(atLeast("max_parallel", *p.MaxParallel, 1))
	}
	if p.BatchSize != nil {
		ps.add(atLeast("batch_size", *p.BatchSize, 1))
	}
	if p.MinWindow != nil {
		ps.add(atLeast("min_window", *p.MinWindow, 0))
	}
	if p.Method != nil {
		ps.add(method("method", *p.Method))
	}
	if p.RequiredChecks != nil {
		if forgeName != ForgeGitHub {
			ps.add(fieldErr("required_checks", "only GitHub projects have it"))
		}
		for i, name := range p.RequiredChecks {
			if strings.TrimSpace(name) == "" {
				ps.add(fieldErr(fmt.Sprintf("required_checks[%d]", i), "empty check name"))
			}
		}
	}
	_, laneErrs := parseLanes("lanes", p.Lanes)
	ps.add(laneErrs...)
	schedule, errs := parseSchedule("", p.Freezes, p.MergeWindows)
	for _, err := range errs {
		// parseSchedule names fields under a section: here there is none.
		if fe, ok := err.(*FieldError); ok {
			fe.Field = strings.TrimPrefix(fe.Field, ".")
		}
		ps.add(err)
	}
	p.schedule = &schedule
	return ps
}

// RequiredChecks returns the checks the file requires; nil when it does
// not say.
func (f *RepoFile) RequiredChecks() []string {
	if f == nil {
		return nil
	}
	return slices.Clone(f.p.RequiredChecks)
}

// RepoSettings returns a project's train settings with its repository
// file's on top. The file may lower max_parallel and batch_size, never
// raise them past the service's, so a repository cannot spend more CI
// than its operator allows; it may choose the method and the window's
// floor; its freezes add to the service's, and its merge windows narrow
// the service's (the target moves only when both allow it).
func (c *Config) RepoSettings(forgeName, projectPath string, f *RepoFile) train.Settings {
	s := c.Settings(forgeName, projectPath)
	if f == nil {
		return s
	}
	p := f.p
	if p.MaxParallel != nil {
		s.MaxParallel = min(*p.MaxParallel, s.MaxParallel)
	}
	if p.BatchSize != nil {
		s.BatchSize = min(*p.BatchSize, s.BatchSize)
	}
	if p.MinWindow != nil {
		s.MinWindow = min(*p.MinWindow, s.MaxParallel)
	}
	if p.Method != nil {
		s.Method = *p.Method
	}
	if p.Lanes != nil {
		// The repository knows its own layout best: its lanes replace
		// the service's.
		s.Lanes = p.LaneList()
	}
	own := p.Schedule()
	s.Schedule.Freezes = append(s.Schedule.Freezes, own.Freezes...)
	s.Schedule.Also = own.Windows
	return s
}

// RepoFileAllowed tells whether a project's trains read its repository
// file.
func (c *Config) RepoFileAllowed(forgeName, projectPath string) bool {
	p, ok := c.Project(forgeName, projectPath)
	return !ok || p.RepoFile == nil || *p.RepoFile
}
