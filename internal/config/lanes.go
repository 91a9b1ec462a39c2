package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/trainyard/trainyard/internal/lanes"
)

// A project's lanes are one-line items, like its freezes:
//
//	lanes: NAME PATTERN [PATTERN...]   api services/api/** libs/api/**

const laneExample = "api services/api/** libs/api/**"

// Every changed path of every MR is matched against every pattern: the
// limits keep that work bounded for a file a repository writes.
const (
	maxLanes        = 64
	maxLanePatterns = 64
)

// parseLanes reads the items of a lanes list under field at. Each
// problem names the item.
func parseLanes(at string, items []string) ([]lanes.Lane, []error) {
	var out []lanes.Lane
	var errs []error
	seen := map[string]int{}
	if len(items) > maxLanes {
		return nil, []error{fieldErr(at, "at most %d lanes, got %d", maxLanes, len(items))}
	}
	for i, item := range items {
		field := fmt.Sprintf("%s[%d]", at, i)
		fields := strings.Fields(item)
		if len(fields) < 2 {
			errs = append(errs, fieldErr(field, "want NAME PATTERN [PATTERN...], like %q, got %q", laneExample, item))
			continue
		}
		name, patterns := fields[0], fields[1:]
		if len(patterns) > maxLanePatterns {
			errs = append(errs, fieldErr(field, "lane %q: at most %d patterns, got %d", name, maxLanePatterns, len(patterns)))
			continue
		}
		if err := lanes.ValidName(name); err != nil {
			errs = append(errs, fieldErr(field, "lane %q: %v", name, err))
			continue
		}
		if j, dup := seen[name]; dup {
			errs = append(errs, fieldErr(field, "lane %q is already %s[%d]", name, at, j))
			continue
		}
		seen[name] = i
		bad := false
		for _, p := range patterns {
			if err := lanes.ValidPattern(p); err != nil {
				errs = append(errs, fieldErr(field, "lane %s: %v", name, err))
				bad = true
			}
		}
		if !bad {
			out = append(out, lanes.Lane{Name: name, Paths: slices.Clone(patterns)})
		}
	}
	return out, errs
}

// LaneList returns the project's lanes as configured; nil when it has none.
func (p *Project) LaneList() []lanes.Lane {
	ls, _ := parseLanes("", p.Lanes)
	return ls
}
