package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// A kind is a type of setting: how its text parses and how a value prints
// in the documentation. Parse errors quote the text and say what was
// wanted; kinds that hold secrets never fail, so never quote.
type kind[V any] struct {
	name   string
	parse  func(string) (V, error)
	format func(V) string
}

func stringKind() kind[string] {
	return kind[string]{"string", func(s string) (string, error) { return s, nil }, func(s string) string { return s }}
}

func secretKind() kind[Secret] {
	return kind[Secret]{"secret", func(s string) (Secret, error) { return NewSecret(s), nil }, Secret.String}
}

func boolKind() kind[bool] {
	return kind[bool]{"boolean", parseBool, strconv.FormatBool}
}

func urlKind() kind[URL] {
	return kind[URL]{"URL", func(s string) (URL, error) { return URL(s), nil }, URL.String}
}

func methodKind() kind[train.Method] {
	return kind[train.Method]{"method",
		func(s string) (train.Method, error) { return train.Method(s), nil },
		func(m train.Method) string { return string(m) }}
}

func intKind() kind[int] {
	return kind[int]{"integer", parseInt, strconv.Itoa}
}

func int64Kind() kind[int64] {
	return kind[int64]{"integer", parseInt64, func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}}
}

func parseInt64(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}

func durationKind() kind[time.Duration] {
	return kind[time.Duration]{"duration", parseDuration, formatDuration}
}

func sizeKind() kind[int64] {
	return kind[int64]{"size", parseSize, formatSize}
}

func accessKind() kind[forge.AccessLevel] {
	return kind[forge.AccessLevel]{"access level", parseAccess, forge.AccessLevel.String}
}

func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return n, nil
}

// parseBool takes only true and false: yes, on and 1 are YAML 1.1 habits
// that would read differently elsewhere.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", s)
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (write it like 30s, 5m or 2h)", s)
	}
	return d, nil
}

// formatDuration drops the zero tails of time.Duration.String: "1m", not
// "1m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

type sizeUnit struct {
	suffix string
	bytes  int64
}

// sizeUnits are tried in order, so "KiB" is matched before "B".
func sizeUnits() []sizeUnit {
	return []sizeUnit{
		{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
	}
}

// parseSize reads a byte count: "5242880", "5MiB", "512 KiB", "2MB".
func parseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits() {
		if len(num) >= len(u.suffix) && strings.EqualFold(num[len(num)-len(u.suffix):], u.suffix) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.bytes
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (write bytes, or a number and a unit like 512KiB or 5MiB)", s)
	}
	if n > math.MaxInt64/mult || n < math.MinInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	for _, u := range sizeUnits()[:3] {
		if n != 0 && n%u.bytes == 0 {
			return strconv.FormatInt(n/u.bytes, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseAccess reads a level a user can be required to have: GitLab's
// names, or GitHub's roles. "none" is refused: it would let anyone who
// can comment run trains.
func parseAccess(s string) (forge.AccessLevel, error) {
	level, err := forge.ParseAccessLevel(s)
	if err != nil || level < forge.Guest {
		return 0, fmt.Errorf("%q is not one of guest, reporter, developer, maintainer or owner, nor a GitHub role: read, triage, write, maintain or admin", s)
	}
	return level, nil
}
