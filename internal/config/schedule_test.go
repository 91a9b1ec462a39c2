package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func TestParseFreeze(t *testing.T) {
	berlin, utc := zone(t, "Europe/Berlin"), time.UTC
	tests := []struct {
		item    string
		want    train.FreezePeriod
		wantErr string
	}{
		{item: "2026-12-24 2026-12-27T08:00 Europe/Berlin Holiday freeze", want: train.FreezePeriod{
			From: time.Date(2026, 12, 24, 0, 0, 0, 0, berlin), Until: time.Date(2026, 12, 27, 8, 0, 0, 0, berlin),
			Reason: "Holiday freeze", Spec: "2026-12-24 2026-12-27T08:00 Europe/Berlin Holiday freeze"}},
		{item: "  2026-06-30T16:00\t2026-07-01T10:00 UTC  ", want: train.FreezePeriod{
			From: time.Date(2026, 6, 30, 16, 0, 0, 0, utc), Until: time.Date(2026, 7, 1, 10, 0, 0, 0, utc),
			Spec: "2026-06-30T16:00 2026-07-01T10:00 UTC"}},
		// The reason's spaces are normalised; its commas and colons kept.
		{item: "2026-03-28 2026-03-30 Europe/Berlin release 3.0:  cut,  then  tag", want: train.FreezePeriod{
			From: time.Date(2026, 3, 27, 23, 0, 0, 0, utc), Until: time.Date(2026, 3, 29, 22, 0, 0, 0, utc),
			Reason: "release 3.0: cut, then tag", Spec: "2026-03-28 2026-03-30 Europe/Berlin release 3.0: cut, then tag"}},

		{item: "", wantErr: `want START END ZONE [REASON], like "2026-12-24 2026-12-27T08:00 Europe/Berlin Holiday freeze", got ""`},
		{item: "2026-12-24 2026-12-27", wantErr: `want START END ZONE [REASON], like "2026-12-24 2026-12-27T08:00 Europe/Berlin Holiday freeze", got "2026-12-24 2026-12-27"`},
		{item: "2026-12-24 2026-12-27 Europe/Berln", wantErr: `zone "Europe/Berln" is not a time zone (write an IANA name like Europe/Berlin or UTC)`},
		{item: "2026-12-24 2026-12-27 utc", wantErr: `zone "utc" is not a time zone (write an IANA name like Europe/Berlin or UTC)`},
		{item: "2026-12-24 2026-12-27 ../etc/passwd", wantErr: `zone "../etc/passwd" is not a time zone (write an IANA name like Europe/Berlin or UTC)`},
		{item: "2026-12-24 2026-12-27 Local", wantErr: `zone "Local" is this machine's zone, which may differ between machines; name the zone, like Europe/Berlin or UTC`},
		{item: "24.12.2026 2026-12-27 UTC", wantErr: `start "24.12.2026" is not a date or date-time (write it like 2026-12-24 or 2026-12-24T08:00)`},
		{item: "2026-12-24T8:00 2026-12-27 UTC", wantErr: `start "2026-12-24T8:00" is not a date or date-time (write it like 2026-12-24 or 2026-12-24T08:00)`},
		{item: "2026-12-24 2026-12-27T08:00:00 UTC", wantErr: `end "2026-12-27T08:00:00" is not a date or date-time (write it like 2026-12-24 or 2026-12-24T08:00)`},
		{item: "2026-02-30 2026-03-02 UTC", wantErr: `start "2026-02-30" is not a date or date-time (write it like 2026-12-24 or 2026-12-24T08:00)`},
		{item: "2026-12-27T08:00 2026-12-24 UTC", wantErr: `end "2026-12-24" must be after start "2026-12-27T08:00"`},
		{item: "2026-12-24 2026-12-24T00:00 UTC", wantErr: `end "2026-12-24T00:00" must be after start "2026-12-24"`},
		{item: "2026-12-24 2026-12-27 UTC bell\a", wantErr: `reason "bell\a" holds control or formatting characters`},
	}
	for _, tt := range tests {
		got, err := parseFreeze(tt.item)
		switch {
		case tt.wantErr != "":
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("parseFreeze(%q) error = %v, want %q", tt.item, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("parseFreeze(%q): %v", tt.item, err)
		case !got.From.Equal(tt.want.From) || !got.Until.Equal(tt.want.Until) || got.Reason != tt.want.Reason || got.Spec != tt.want.Spec:
			t.Errorf("parseFreeze(%q) = %+v, want %+v", tt.item, got, tt.want)
		}
	}
	long := "2026-12-24 2026-12-27 UTC "
	for range 201 {
		long += "x"
	}
	if _, err := parseFreeze(long); err == nil || err.Error() != "reason is 201 characters long, want at most 200" {
		t.Errorf("parseFreeze(a long reason) error = %v", err)
	}
}

func TestParseWindow(t *testing.T) {
	const (
		mon, tue, wed, thu, fri, sat, sun = 1 << time.Monday, 1 << time.Tuesday, 1 << time.Wednesday, 1 << time.Thursday,
			1 << time.Friday, 1 << time.Saturday, 1 << time.Sunday
	)
	tests := []struct {
		item        string
		days        train.Weekdays
		from, until time.Duration
		zone, spec  string
		wantErr     string
	}{
		{item: "Mon-Fri 09:00-17:00 Europe/Berlin", days: mon | tue | wed | thu | fri, from: 9 * time.Hour, until: 17 * time.Hour,
			zone: "Europe/Berlin", spec: "Mon-Fri 09:00-17:00 Europe/Berlin"},
		{item: " monday,WED,friday  9:30-12:00\tUTC ", days: mon | wed | fri, from: 9*time.Hour + 30*time.Minute, until: 12 * time.Hour,
			zone: "UTC", spec: "Mon,Wed,Fri 09:30-12:00 UTC"},
		{item: "fri-MON 22:00-06:00 America/New_York", days: fri | sat | sun | mon, from: 22 * time.Hour, until: 6 * time.Hour,
			zone: "America/New_York", spec: "Fri-Mon 22:00-06:00 America/New_York"},
		{item: "Sat,Sunday 00:00-24:00 UTC", days: sat | sun, from: 0, until: 24 * time.Hour, zone: "UTC", spec: "Sat,Sun 00:00-24:00 UTC"},
		{item: "Tue-Tue,Thu 18:00-00:00 UTC", days: tue | thu, from: 18 * time.Hour, until: 0, zone: "UTC", spec: "Tue,Thu 18:00-00:00 UTC"},
		{item: "Sun-Sat 08:00-07:59 UTC", days: 0b1111111, from: 8 * time.Hour, until: 7*time.Hour + 59*time.Minute, zone: "UTC", spec: "Sun-Sat 08:00-07:59 UTC"},

		{item: "Mon-Fri 09:00-17:00", wantErr: `want DAYS HH:MM-HH:MM ZONE, like "Mon-Fri 09:00-17:00 Europe/Berlin", got "Mon-Fri 09:00-17:00"`},
		{item: "Mon - Fri 09:00-17:00 UTC", wantErr: `want DAYS HH:MM-HH:MM ZONE, like "Mon-Fri 09:00-17:00 Europe/Berlin", got "Mon - Fri 09:00-17:00 UTC"`},
		{item: "Mon, Fri 09:00-17:00 UTC", wantErr: `want DAYS HH:MM-HH:MM ZONE, like "Mon-Fri 09:00-17:00 Europe/Berlin", got "Mon, Fri 09:00-17:00 UTC"`},
		{item: "Mon,,Fri 09:00-17:00 UTC", wantErr: `days "Mon,,Fri" have an empty item; write them like Mon,Wed,Fri or Mon-Fri`},
		{item: "Mon, 09:00-17:00 UTC", wantErr: `days "Mon," have an empty item; write them like Mon,Wed,Fri or Mon-Fri`},
		{item: "Mo-Fr 09:00-17:00 UTC", wantErr: `day "Mo" is not a day of the week (write Mon to Sun, or Monday to Sunday)`},
		{item: "Mon- 09:00-17:00 UTC", wantErr: `day "" is not a day of the week (write Mon to Sun, or Monday to Sunday)`},
		{item: "weekdays 09:00-17:00 UTC", wantErr: `day "weekdays" is not a day of the week (write Mon to Sun, or Monday to Sunday)`},
		{item: "Mon-Wed-Fri 09:00-17:00 UTC", wantErr: `day range "Mon-Wed-Fri" is not DAY-DAY, like Mon-Fri`},
		{item: "Mon-Fri 9-17 UTC", wantErr: `start "9" is not HH:MM from 00:00 to 23:59`},
		{item: "Mon-Fri 9:0-17:00 UTC", wantErr: `start "9:0" is not HH:MM from 00:00 to 23:59`},
		{item: "Mon-Fri 09:00 UTC", wantErr: `hours "09:00" are not HH:MM-HH:MM, like 09:00-17:00`},
		{item: "Mon-Fri 09:00-12:00-17:00 UTC", wantErr: `hours "09:00-12:00-17:00" are not HH:MM-HH:MM, like 09:00-17:00`},
		{item: "Mon-Fri 24:00-06:00 UTC", wantErr: `start "24:00" is not HH:MM from 00:00 to 23:59`},
		{item: "Mon-Fri 09:60-17:00 UTC", wantErr: `start "09:60" is not HH:MM from 00:00 to 23:59`},
		{item: "Mon-Fri 09:00-24:01 UTC", wantErr: `end "24:01" is not HH:MM from 00:00 to 24:00`},
		{item: "Mon-Fri 09:00-5pm UTC", wantErr: `end "5pm" is not HH:MM from 00:00 to 24:00`},
		{item: "Mon-Fri 09:00-+9:00 UTC", wantErr: `end "+9:00" is not HH:MM from 00:00 to 24:00`},
		{item: "Mon-Fri 09:00-9:00 UTC", wantErr: `hours "09:00-9:00" make an empty window; want an end other than the start (00:00-24:00 is the whole day, an end before the start runs past midnight)`},
		{item: "Mon-Fri 00:00-00:00 UTC", wantErr: `hours "00:00-00:00" make an empty window; want an end other than the start (00:00-24:00 is the whole day, an end before the start runs past midnight)`},
		{item: "Mon-Fri 09:00-17:00 CEST", wantErr: `zone "CEST" is not a time zone (write an IANA name like Europe/Berlin or UTC)`},
	}
	for _, tt := range tests {
		got, err := parseWindow(tt.item)
		switch {
		case tt.wantErr != "":
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("parseWindow(%q) error = %v, want %q", tt.item, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("parseWindow(%q): %v", tt.item, err)
		case got.Days != tt.days || got.From != tt.from || got.Until != tt.until || got.Zone.String() != tt.zone || got.Spec != tt.spec:
			t.Errorf("parseWindow(%q) = days %07b %v-%v %v %q, want days %07b %v-%v %v %q", tt.item,
				got.Days, got.From, got.Until, got.Zone, got.Spec, tt.days, tt.from, tt.until, tt.zone, tt.spec)
		}
	}
}

// A window keeps its local hours across a daylight saving change: Berlin
// goes from UTC+1 to UTC+2 on Sunday 2026-03-29 and back on Sunday
// 2026-10-25.
func TestWindowAcrossDST(t *testing.T) {
	office, err := parseWindow("Mon-Fri 09:00-17:00 Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	night, err := parseWindow("Sat 22:00-06:00 Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		at, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	tests := []struct {
		schedule  train.Schedule
		at        string // UTC
		open      bool
		untilUTC  string // when a hold ends
		reasonFor string
	}{
		// Friday before the change, in winter time (UTC+1).
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-03-27 07:59", untilUTC: "2026-03-27 08:00"},
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-03-27 08:00", open: true},
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-03-27 15:59", open: true},
		// Closed over the weekend of the change; it opens at 09:00 summer
		// time, 07:00 UTC, on Monday.
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-03-27 16:00", untilUTC: "2026-03-30 07:00"},
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-03-29 01:30", untilUTC: "2026-03-30 07:00"},
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-03-29 12:00", untilUTC: "2026-03-30 07:00"},
		// Monday after, in summer time (UTC+2).
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-03-30 06:59", untilUTC: "2026-03-30 07:00"},
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-03-30 07:00", open: true},
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-03-30 14:59", open: true},
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-03-30 15:00", untilUTC: "2026-03-31 07:00"},
		// Back to winter time: Monday 2026-10-26 opens at 08:00 UTC.
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-10-23 15:00", untilUTC: "2026-10-26 08:00"},
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-10-26 07:59", untilUTC: "2026-10-26 08:00"},
		{schedule: train.Schedule{Windows: []train.MergeWindow{office}}, at: "2026-10-26 08:00", open: true},
		// Saturday night into the Sunday that loses an hour: 22:00 CET is
		// 21:00 UTC, 06:00 CEST is 04:00 UTC.
		{schedule: train.Schedule{Windows: []train.MergeWindow{night}}, at: "2026-03-28 20:59", untilUTC: "2026-03-28 21:00"},
		{schedule: train.Schedule{Windows: []train.MergeWindow{night}}, at: "2026-03-28 21:00", open: true},
		{schedule: train.Schedule{Windows: []train.MergeWindow{night}}, at: "2026-03-29 01:30", open: true}, // 03:30 CEST
		{schedule: train.Schedule{Windows: []train.MergeWindow{night}}, at: "2026-03-29 03:59", open: true},
		{schedule: train.Schedule{Windows: []train.MergeWindow{night}}, at: "2026-03-29 04:00", untilUTC: "2026-04-04 20:00"},
	}
	for _, tt := range tests {
		h, held := tt.schedule.Active(utc(tt.at))
		if held == tt.open {
			t.Errorf("%s UTC in %s: held = %v, want open = %v", tt.at, tt.schedule.Windows[0].Spec, held, tt.open)
			continue
		}
		if held && (h.Kind != train.HoldWindow || !h.Until.Equal(utc(tt.untilUTC)) || h.Reason != tt.schedule.Windows[0].Spec) {
			t.Errorf("%s UTC in %s: hold = %+v, want a window hold until %s UTC", tt.at, tt.schedule.Windows[0].Spec, h, tt.untilUTC)
		}
	}
}

// A freeze's dates are midnights in its zone, whatever the offset.
func TestFreezeAcrossDST(t *testing.T) {
	f, err := parseFreeze("2026-03-29 2026-03-29T03:00 Europe/Berlin clocks go forward")
	if err != nil {
		t.Fatal(err)
	}
	// 00:00 CET is 23:00 UTC the day before; 03:00 CEST is 01:00 UTC.
	if want := time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC); !f.From.Equal(want) {
		t.Errorf("from = %v, want %v", f.From.UTC(), want)
	}
	if want := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC); !f.Until.Equal(want) {
		t.Errorf("until = %v, want %v", f.Until.UTC(), want)
	}
	s := train.Schedule{Freezes: []train.FreezePeriod{f}}
	if h, held := s.Active(time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)); !held || h.Kind != train.HoldFreeze || h.Reason != "clocks go forward" || !h.Until.Equal(f.Until) {
		t.Errorf("hold = %+v, %v; want the freeze", h, held)
	}
	if _, held := s.Active(f.Until); held {
		t.Error("held at the end of the freeze")
	}
}

// Each bad item is named by its field, and what is wrong is said; every
// item is checked, not only the first bad one.
func TestScheduleProblems(t *testing.T) {
	_, err := Parse([]byte(joinLines(
		"projects:",
		"  - forge: gitlab",
		"    path: g/a",
		"    freezes:",
		"      - 2026-12-24 2026-12-27T08:00 Europe/Berlin Holiday freeze",
		"      - 2026-12-27T08:00 2026-12-24 Europe/Berlin",
		"      - 2026-12-24",
		"    merge_windows: [Mon-Fri 09:00-17:00 Europe/Berlin, Mon-Fri 09:00-09:00 UTC]",
		"  - forge: gitlab",
		"    path: g/b",
		"    merge_windows: [Mon-Fri 09:00-17:00 Mars/Olympus]",
	)), envMap(forgeEnv()), nil)
	wantProblems(t, err,
		`projects[0].freezes[1]: end "2026-12-24" must be after start "2026-12-27T08:00"`,
		`projects[0].freezes[2]: want START END ZONE [REASON], like "2026-12-24 2026-12-27T08:00 Europe/Berlin Holiday freeze", got "2026-12-24"`,
		`projects[0].merge_windows[1]: hours "09:00-09:00" make an empty window; want an end other than the start (00:00-24:00 is the whole day, an end before the start runs past midnight)`,
		`projects[1].merge_windows[0]: zone "Mars/Olympus" is not a time zone (write an IANA name like Europe/Berlin or UTC)`,
	)
}

func TestSettingsSchedule(t *testing.T) {
	c := mustParse(t, joinLines(
		"projects:",
		"  - forge: gitlab",
		"    path: g/a",
		// A single value is one item: its commas are its own.
		"    freezes: 2026-12-24 2027-01-04 Europe/Berlin Year end, and New Year",
		"    merge_windows: Mon,Wed 09:00-17:00 UTC",
		"  - forge: gitlab",
		"    path: g/b",
	), forgeEnv())
	s := c.Settings(ForgeGitLab, "G/A").Schedule
	if len(s.Freezes) != 1 || s.Freezes[0].Reason != "Year end, and New Year" ||
		!s.Freezes[0].From.Equal(time.Date(2026, 12, 23, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("freezes = %+v, want one, Year end, and New Year", s.Freezes)
	}
	if len(s.Windows) != 1 || s.Windows[0].Spec != "Mon,Wed 09:00-17:00 UTC" || s.Windows[0].Zone != time.UTC {
		t.Errorf("windows = %+v, want Mon,Wed 09:00-17:00 UTC", s.Windows)
	}
	// The train's copy is its own.
	s.Freezes[0].Reason = "changed"
	if again := c.Settings(ForgeGitLab, "g/a").Schedule; again.Freezes[0].Reason != "Year end, and New Year" {
		t.Error("changing the settings' schedule changed the configuration")
	}
	// Items naming the same zone share it: it is read once.
	if a, b := c.Settings(ForgeGitLab, "g/a").Schedule.Freezes[0].From.Location(), mustLoadZone(t, "Europe/Berlin"); a != b {
		t.Error("the zone was loaded again")
	}
	if s := c.Settings(ForgeGitLab, "g/b").Schedule; !reflect.DeepEqual(s, train.Schedule{}) {
		t.Errorf("g/b schedule = %+v, want none", s)
	}
}

func mustLoadZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := loadZone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A configuration built in code gets its schedule from Validate, or
// failing that from Settings itself.
func TestSettingsScheduleBuiltInCode(t *testing.T) {
	for _, validate := range []bool{true, false} {
		c := Defaults()
		c.GitLab.URL, c.GitLab.Token, c.GitLab.WebhookSecret = "https://gitlab.example.com", NewSecret("glpat-token"), NewSecret("0123456789abcdef0123")
		c.Projects = []Project{{Forge: ForgeGitLab, Path: "g/a",
			Freezes: []string{"2026-12-24 2026-12-27 UTC"}, MergeWindows: []string{"Mon-Fri 09:00-17:00 UTC", "bad"}}}
		if validate {
			wantProblems(t, c.Validate(),
				`projects[0].merge_windows[1]: want DAYS HH:MM-HH:MM ZONE, like "Mon-Fri 09:00-17:00 Europe/Berlin", got "bad"`)
			if c.Projects[0].schedule == nil {
				t.Fatal("Validate did not keep the parsed schedule")
			}
		}
		s := c.Settings(ForgeGitLab, "g/a").Schedule
		if len(s.Freezes) != 1 || len(s.Windows) != 1 || s.Windows[0].Spec != "Mon-Fri 09:00-17:00 UTC" {
			t.Errorf("validated %v: schedule = %+v, want the freeze and the good window", validate, s)
		}
	}
}
