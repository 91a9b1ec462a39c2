package train

import (
	"strings"
	"time"
)

// Schedule is when a train's target may move: never inside a freeze
// period, and, when there are merge windows, only inside one of them.
// Cars are still built and tested while the target is held, so the train
// merges what passed as soon as it opens.
type Schedule struct {
	Freezes []FreezePeriod `json:"freezes,omitempty"`
	Windows []MergeWindow  `json:"merge_windows,omitempty"`
	// Also are merge windows from a second source (the repository's own
	// settings file): when there are some, the target moves only when
	// inside one of Windows (if any) and one of Also.
	Also []MergeWindow `json:"also_merge_windows,omitempty"`
}

// FreezePeriod holds the target from From until Until (excluded).
type FreezePeriod struct {
	From   time.Time `json:"from"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason,omitempty"`
	// Spec is the period as configured, for people.
	Spec string `json:"spec,omitempty"`
}

// MergeWindow is a weekly span of time in a time zone during which the
// target may move: on each of Days, from From to Until after midnight. An
// Until at or before From runs past midnight into the next day.
type MergeWindow struct {
	Days  Weekdays      `json:"days"`
	From  time.Duration `json:"from"`
	Until time.Duration `json:"until"`
	// Zone is the window's time zone; nil reads as UTC. It is loaded where
	// the configuration is read, so the planner never touches the system's
	// zone database.
	Zone *time.Location `json:"-"`
	// Spec is the window as configured, for people.
	Spec string `json:"spec,omitempty"`
}

// Weekdays is a set of days of the week, bit d for time.Weekday d.
type Weekdays uint8

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<d) != 0 }

// Hold says why a train's target may not move now and until when.
type Hold struct {
	// Kind is what holds the target: HoldFrozen (a /train freeze),
	// HoldFreeze (a scheduled freeze period) or HoldWindow (outside every
	// merge window).
	Kind HoldKind `json:"kind"`
	// Reason is the freeze's reason as given, or for a window the windows.
	Reason string `json:"reason,omitempty"`
	// Until is when the hold ends by itself; zero for a freeze that lasts
	// until someone lifts it.
	Until time.Time `json:"until,omitzero"`
	By    string    `json:"by,omitempty"` // who froze the train by command
}

// HoldKind says what holds a target.
type HoldKind string

const (
	HoldFrozen HoldKind = "frozen"
	HoldFreeze HoldKind = "freeze_period"
	HoldWindow HoldKind = "outside_merge_window"
)

// Sentence says the hold for people, without a final period.
func (h Hold) Sentence() string { return h.Say(func(s string) string { return s }) }

// Say is Sentence with the reason a person gave written by quote, as
// a comment on the forge must show it.
func (h Hold) Say(quote func(string) string) string {
	until := ""
	if !h.Until.IsZero() {
		until = " until " + h.Until.UTC().Format("2006-01-02 15:04 MST")
	}
	switch h.Kind {
	case HoldFrozen:
		s := "the merge train is frozen"
		if h.By != "" {
			s += " by " + h.By
		}
		if h.Reason != "" {
			s += ": " + quote(h.Reason)
		}
		return s
	case HoldFreeze:
		s := "the target branch is in a freeze period" + until
		if h.Reason != "" {
			s += ": " + quote(h.Reason)
		}
		return s
	}
	return "the target branch is outside its merge windows (" + h.Reason + ")" + until
}

// Active returns the scheduled hold at now, if any: a freeze period first,
// then being outside every merge window.
func (s Schedule) Active(now time.Time) (Hold, bool) {
	for _, f := range s.Freezes {
		if !now.Before(f.From) && now.Before(f.Until) {
			// Adjacent or overlapping periods make one longer hold.
			until := f.Until
			for changed := true; changed; {
				changed = false
				for _, g := range s.Freezes {
					if !until.Before(g.From) && until.Before(g.Until) {
						until, changed = g.Until, true
					}
				}
			}
			return Hold{Kind: HoldFreeze, Reason: f.Reason, Until: until}, true
		}
	}
	for _, ws := range [][]MergeWindow{s.Windows, s.Also} {
		if len(ws) == 0 || open(ws, now) {
			continue
		}
		specs := make([]string, len(ws))
		for i, w := range ws {
			specs[i] = w.Spec
		}
		return Hold{Kind: HoldWindow, Reason: strings.Join(specs, "; "), Until: nextOpen(ws, now)}, true
	}
	return Hold{}, false
}

// open reports whether now is inside one of the windows.
func open(windows []MergeWindow, now time.Time) bool {
	for _, w := range windows {
		if w.contains(now) {
			return true
		}
	}
	return false
}

func (w MergeWindow) contains(now time.Time) bool {
	loc := w.Zone
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	// The window that started today, and the one that started yesterday
	// and runs past midnight.
	for back := range 2 {
		day := local.AddDate(0, 0, -back)
		if !w.Days.Has(day.Weekday()) {
			continue
		}
		start, end := w.span(day, loc)
		if !now.Before(start) && now.Before(end) {
			return true
		}
	}
	return false
}

// span is the window's start and end on the day of day, in loc. Wall
// clock times are laid out with time.Date, so a window keeps its local
// hours across a daylight saving change.
func (w MergeWindow) span(day time.Time, loc *time.Location) (time.Time, time.Time) {
	y, m, d := day.Date()
	at := func(off time.Duration, days int) time.Time {
		return time.Date(y, m, d+days, int(off/time.Hour), int(off%time.Hour/time.Minute), 0, 0, loc)
	}
	start := at(w.From, 0)
	end := at(w.Until, 0)
	if w.Until <= w.From {
		end = at(w.Until, 1)
	}
	return start, end
}

// nextOpen is when the first of the windows opens after now; zero if
// none does within a week (no window has a day).
func nextOpen(windows []MergeWindow, now time.Time) time.Time {
	var next time.Time
	for _, w := range windows {
		loc := w.Zone
		if loc == nil {
			loc = time.UTC
		}
		local := now.In(loc)
		for ahead := range 8 {
			day := local.AddDate(0, 0, ahead)
			if !w.Days.Has(day.Weekday()) {
				continue
			}
			if start, _ := w.span(day, loc); start.After(now) {
				if next.IsZero() || start.Before(next) {
					next = start
				}
				break
			}
		}
	}
	return next
}

// String lists the days like "Mon-Fri" or "Mon,Wed,Sat".
func (w Weekdays) String() string {
	names := [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	var parts []string
	// Monday first, as people write weeks.
	order := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
	for i := 0; i < len(order); {
		if !w.Has(order[i]) {
			i++
			continue
		}
		j := i
		for j+1 < len(order) && w.Has(order[j+1]) {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, names[order[i]]+"-"+names[order[j]])
		case j > i:
			parts = append(parts, names[order[i]], names[order[j]])
		default:
			parts = append(parts, names[order[i]])
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
