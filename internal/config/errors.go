package config

import (
	"errors"
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

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.Source != "" {
		b.WriteString(" " + e.Source)
	}
	if len(e.Problems) == 1 {
		return b.String() + ": " + e.Problems[0].Error()
	}
	fmt.Fprintf(&b, ": %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() []error { return e.Problems }

// Brief is Error cut to what a comment can show: at most the first
// maxShown problems, each at most maxProblemLen bytes. A repository file
// of 64 KiB can hold thousands of problems, each quoting a long value.
func (e *Error) Brief() string {
	const maxShown, maxProblemLen = 10, 300
	short := &Error{Source: e.Source}
	for _, p := range e.Problems[:min(len(e.Problems), maxShown)] {
		short.Problems = append(short.Problems, errors.New(train.Clip(p.Error(), maxProblemLen)))
	}
	s := short.Error()
	if more := len(e.Problems) - len(short.Problems); more > 0 {
		s = strings.Replace(s, fmt.Sprintf("%d problems:", len(short.Problems)), fmt.Sprintf("%d problems, the first %d:", len(e.Problems), maxShown), 1)
		s += fmt.Sprintf("\n  … and %d more", more)
	}
	return s
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
