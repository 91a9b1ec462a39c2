package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/trainyard/trainyard/internal/train"
)

// FieldError is one problem with one setting. Field names it as the user
// wrote it: a YAML path ("projects[1].method"), an environment variable or
// a flag.
type FieldError struct {
	Field string
	Line  int // line in the file, when known
	Err   error
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return e.Field + " (line " + strconv.Itoa(e.Line) + "): " + e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Error is every problem found in a configuration, so that they can all be
// fixed in one go.
type Error struct {
	Source   string // the file, or "" when there was none
	Problems []error
}

func (e *Error) Error() string { return e.text(len(e.Problems), 0) }

func (e *Error) Unwrap() []error { return e.Problems }

// Brief is Error cut to what a comment can show: at most the first 10
// problems, each at most 300 bytes. A repository file of 64 KiB can hold
// thousands of problems, each quoting a long value.
func (e *Error) Brief() string { return e.text(10, 300) }

// text lists the first shown problems, each cut to clip bytes unless
// clip is 0, and says how many more there are.
func (e *Error) text(shown, clip int) string {
	line := func(p error) string {
		if clip > 0 {
			return train.Clip(p.Error(), clip)
		}
		return p.Error()
	}
	var b strings.Builder
	b.WriteString("config")
	if e.Source != "" {
		b.WriteString(" " + e.Source)
	}
	if len(e.Problems) == 1 {
		return b.String() + ": " + line(e.Problems[0])
	}
	fmt.Fprintf(&b, ": %d problems", len(e.Problems))
	if shown < len(e.Problems) {
		fmt.Fprintf(&b, ", the first %d", shown)
	}
	b.WriteString(":")
	for _, p := range e.Problems[:min(len(e.Problems), shown)] {
		b.WriteString("\n  " + line(p))
	}
	if more := len(e.Problems) - shown; more > 0 {
		fmt.Fprintf(&b, "\n  … and %d more", more)
	}
	return b.String()
}

// problems collects errors, skipping nils.
type problems []error

func (p *problems) add(errs ...error) {
	for _, err := range errs {
		if err != nil {
			*p = append(*p, err)
		}
	}
}

func (p problems) err(source string) error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Source: source, Problems: p}
}
