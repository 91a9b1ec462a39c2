package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	// The zone database is built in, so freezes and merge windows load
	// where the system has none (/usr/share/zoneinfo in a scratch image).
	_ "time/tzdata"

	"github.com/trainyard/trainyard/internal/train"
)

// A project's freezes and merge_windows are lists of one-line items,
// parsed here into the train's schedule:
//
//	freezes:       START END ZONE [REASON...]   2026-12-24 2026-12-27T08:00 Europe/Berlin Holiday freeze
//	merge_windows: DAYS HH:MM-HH:MM ZONE        Mon-Fri 09:00-17:00 Europe/Berlin

const (
	freezeExample = "2026-12-24 2026-12-27T08:00 Europe/Berlin Holiday freeze"
	windowExample = "Mon-Fri 09:00-17:00 Europe/Berlin"
	// maxFreezeReason bounds a freeze's reason in characters, as
	// /train freeze bounds its own.
	maxFreezeReason = 200
)

// Layouts of a freeze's START and END: a local date-time, or a date
// meaning its midnight.
const (
	dateTimeLayout = "2006-01-02T15:04"
	dateLayout     = "2006-01-02"
)

// parseFreeze reads one item of freezes. Its errors quote the bad part
// and say what is wanted; the caller names the field.
func parseFreeze(item string) (train.FreezePeriod, error) {
	fields := strings.Fields(item)
	if len(fields) < 3 {
		return train.FreezePeriod{}, fmt.Errorf("want START END ZONE [REASON], like %q, got %q", freezeExample, item)
	}
	loc, err := loadZone(fields[2])
	if err != nil {
		return train.FreezePeriod{}, err
	}
	from, err := parseLocal("start", fields[0], loc)
	if err != nil {
		return train.FreezePeriod{}, err
	}
	until, err := parseLocal("end", fields[1], loc)
	if err != nil {
		return train.FreezePeriod{}, err
	}
	if !until.After(from) {
		return train.FreezePeriod{}, fmt.Errorf("end %q must be after start %q", fields[1], fields[0])
	}
	reason := strings.Join(fields[3:], " ")
	switch n := utf8.RuneCountInString(reason); {
	case n > maxFreezeReason:
		return train.FreezePeriod{}, fmt.Errorf("reason is %d characters long, want at most %d", n, maxFreezeReason)
	case !utf8.ValidString(reason) || strings.ContainsFunc(reason, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		return train.FreezePeriod{}, fmt.Errorf("reason %q holds control or formatting characters", reason)
	}
	return train.FreezePeriod{From: from, Until: until, Reason: reason, Spec: strings.Join(fields, " ")}, nil
}

// parseLocal reads a freeze's START or END (what names it) in loc.
func parseLocal(what, s string, loc *time.Location) (time.Time, error) {
	layout := dateTimeLayout
	if !strings.Contains(s, "T") {
		layout = dateLayout
	}
	t, err := time.ParseInLocation(layout, s, loc)
	// The length refuses the one-digit hours the layout would let in.
	if err != nil || len(s) != len(layout) {
		return time.Time{}, fmt.Errorf("%s %q is not a date or date-time (write it like 2026-12-24 or 2026-12-24T08:00)", what, s)
	}
	return t, nil
}

// parseWindow reads one item of merge_windows. Its Spec is the item
// normalised: days as Mon or Mon-Fri, times as HH:MM.
func parseWindow(item string) (train.MergeWindow, error) {
	fields := strings.Fields(item)
	if len(fields) != 3 {
		return train.MergeWindow{}, fmt.Errorf("want DAYS HH:MM-HH:MM ZONE, like %q, got %q", windowExample, item)
	}
	days, daysSpec, err := parseDays(fields[0])
	if err != nil {
		return train.MergeWindow{}, err
	}
	from, until, err := parseHours(fields[1])
	if err != nil {
		return train.MergeWindow{}, err
	}
	loc, err := loadZone(fields[2])
	if err != nil {
		return train.MergeWindow{}, err
	}
	spec := daysSpec + " " + clock(from) + "-" + clock(until) + " " + loc.String()
	return train.MergeWindow{Days: days, From: from, Until: until, Zone: loc, Spec: spec}, nil
}

// dayNames are the days by time.Weekday, as a Spec writes them.
var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// parseDay reads a day's name: Mon or Monday, in any case.
func parseDay(s string) (time.Weekday, bool) {
	for d, name := range dayNames {
		full := time.Weekday(d).String()
		if strings.EqualFold(s, name) || strings.EqualFold(s, full) {
			return time.Weekday(d), true
		}
	}
	return 0, false
}

// parseDays reads a comma-separated list of days and ranges (Mon-Fri,
// or Fri-Mon across the weekend), and writes it back normalised.
func parseDays(s string) (train.Weekdays, string, error) {
	var days train.Weekdays
	var spec []string
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			return 0, "", fmt.Errorf("days %q have an empty item; write them like Mon,Wed,Fri or Mon-Fri", s)
		}
		ends := strings.Split(part, "-")
		if len(ends) > 2 {
			return 0, "", fmt.Errorf("day range %q is not DAY-DAY, like Mon-Fri", part)
		}
		var ds []time.Weekday
		for _, e := range ends {
			d, ok := parseDay(e)
			if !ok {
				return 0, "", fmt.Errorf("day %q is not a day of the week (write Mon to Sun, or Monday to Sunday)", e)
			}
			ds = append(ds, d)
		}
		first, last := ds[0], ds[len(ds)-1]
		for d := first; ; d = (d + 1) % 7 {
			days |= 1 << d
			if d == last {
				break
			}
		}
		if first == last {
			spec = append(spec, dayNames[first])
		} else {
			spec = append(spec, dayNames[first]+"-"+dayNames[last])
		}
	}
	return days, strings.Join(spec, ","), nil
}

// parseHours reads HH:MM-HH:MM. The end may be 24:00; an end before the
// start runs past midnight; an end equal to the start is an empty window.
func parseHours(s string) (time.Duration, time.Duration, error) {
	start, end, ok := strings.Cut(s, "-")
	if !ok || strings.Contains(end, "-") {
		return 0, 0, fmt.Errorf("hours %q are not HH:MM-HH:MM, like 09:00-17:00", s)
	}
	from, ok := parseClock(start)
	if !ok || from >= 24*time.Hour {
		return 0, 0, fmt.Errorf("start %q is not HH:MM from 00:00 to 23:59", start)
	}
	until, ok := parseClock(end)
	if !ok {
		return 0, 0, fmt.Errorf("end %q is not HH:MM from 00:00 to 24:00", end)
	}
	if from == until {
		return 0, 0, fmt.Errorf("hours %q make an empty window; want an end other than the start (00:00-24:00 is the whole day, an end before the start runs past midnight)", s)
	}
	return from, until, nil
}

// parseClock reads H:MM or HH:MM from 00:00 to 24:00.
func parseClock(s string) (time.Duration, bool) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 || !digits(hh) || !digits(mm) {
		return 0, false
	}
	h, _ := strconv.Atoi(hh)
	m, _ := strconv.Atoi(mm)
	if h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, true
}

func digits(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}

// clock writes an offset from midnight as HH:MM.
func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// zones caches the zones loaded, by name: each is read from the zone
// database once, and every item naming it shares one *time.Location.
var zones sync.Map // string -> *time.Location

// loadZone loads an IANA zone by name. "Local" is refused: it is
// whatever zone the machine is set to, which replicas need not share.
func loadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "Local" {
		return nil, errors.New(`zone "Local" is this machine's zone, which may differ between machines; name the zone, like Europe/Berlin or UTC`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("zone %q is not a time zone (write an IANA name like Europe/Berlin or UTC)", name)
	}
	loc2, _ := zones.LoadOrStore(name, loc)
	return loc2.(*time.Location), nil
}

// parseSchedule reads a project's freezes and merge_windows. It returns
// what it could read and an error for each item it could not, named as
// at.freezes[i] or at.merge_windows[i].
func parseSchedule(at string, freezes, windows []string) (train.Schedule, []error) {
	var s train.Schedule
	var ps problems
	for i, item := range freezes {
		f, err := parseFreeze(item)
		if err != nil {
			ps.add(&FieldError{Field: fmt.Sprintf("%s.freezes[%d]", at, i), Err: err})
			continue
		}
		s.Freezes = append(s.Freezes, f)
	}
	for i, item := range windows {
		w, err := parseWindow(item)
		if err != nil {
			ps.add(&FieldError{Field: fmt.Sprintf("%s.merge_windows[%d]", at, i), Err: err})
			continue
		}
		s.Windows = append(s.Windows, w)
	}
	return s, ps
}

// Schedule returns the project's freezes and merge windows, as parsed
// when the configuration was loaded or validated; a Project built in code
// and never validated has its items parsed now, the bad ones left out.
// The slices are the caller's own.
func (p *Project) Schedule() train.Schedule {
	s := p.schedule
	if s == nil {
		parsed, _ := parseSchedule("", p.Freezes, p.MergeWindows)
		s = &parsed
	}
	return train.Schedule{Freezes: slices.Clone(s.Freezes), Windows: slices.Clone(s.Windows)}
}
