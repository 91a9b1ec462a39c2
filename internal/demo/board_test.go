package demo

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestBoardLines(t *testing.T) {
	b := board{
		Title: "Merge train demo/app → main on GitLab", Elapsed: 3250 * time.Millisecond, Merged: 2, Evicted: 1,
		Cars: []boardCar{
			{MR: "!3", State: "running", Pipeline: "#31", Commit: "c550df67e898", Title: "Add feature 3"},
			{MR: "!4", State: "queued", Pipeline: "-", Title: "Add feature 4"},
		},
		Events: []string{"   3.1s  pipeline #30: passed", "   3.2s  main moves f6dcf206 -> ea1d194a, merging !1 !2"},
	}
	want := []string{
		"Merge train demo/app → main on GitLab  3.2s",
		"2 on the train, 2 merged, 1 evicted",
		"",
		"  MR    STATE     PIPELINE       COMMIT    TITLE",
		"  !3    running   #31            c550df67  Add feature 3",
		"  !4    queued    -                        Add feature 4",
		"",
		"   3.1s  pipeline #30: passed",
		"   3.2s  main moves f6dcf206 -> ea1d194a, merging !1 !2",
	}
	if got := b.lines(0, 0); !slices.Equal(got, want) {
		t.Errorf("board:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	b.Cars, b.Events, b.Paused = nil, nil, true
	want = []string{
		"Merge train demo/app → main on GitLab  3.2s",
		"0 on the train, 2 merged, 1 evicted, paused",
		"",
		"  MR    STATE     PIPELINE       COMMIT    TITLE",
		"  (no cars)",
	}
	if got := b.lines(80, 24); !slices.Equal(got, want) {
		t.Errorf("empty board:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A board taller or wider than the terminal would scroll it when drawn
// again: it is cut to the screen, last row free, and says what it left
// out.
func TestBoardFitsTheTerminal(t *testing.T) {
	b := board{Title: "Merge train demo/app → main on GitLab"}
	for i := 1; i <= 30; i++ {
		b.Cars = append(b.Cars, boardCar{MR: fmt.Sprintf("!%d", i), State: "queued", Pipeline: "-",
			Title: strings.Repeat("a long title ", 5)})
	}
	for i := 1; i <= 20; i++ {
		b.Events = append(b.Events, fmt.Sprintf("event %d", i))
	}
	got := b.lines(40, 16)
	if len(got) != 15 {
		t.Fatalf("%d lines on 16 rows, want 15:\n%s", len(got), strings.Join(got, "\n"))
	}
	for _, l := range got {
		if n := utf8.RuneCountInString(l); n > 39 {
			t.Errorf("line of %d characters on 40 columns: %q", n, l)
		}
	}
	// 4 heading lines, 6 cars and a line for the other 24, then the
	// events keep their 4 lines: a blank one and the last three.
	if got[9] != "  !6    queued    -                   …" || got[10] != "  … and 24 more" {
		t.Errorf("cars end with %q, %q", got[9], got[10])
	}
	if tail := got[11:]; !slices.Equal(tail, []string{"", "event 18", "event 19", "event 20"}) {
		t.Errorf("events %q, want the last three", tail)
	}

	if got := b.lines(40, 3); len(got) != 2 {
		t.Errorf("%d lines on 3 rows: %q", len(got), got)
	}
}

func TestFrameDrawsOverTheLastBoard(t *testing.T) {
	lines := []string{"one", "", "three"}
	if got, want := frame(lines, true), "\x1b[H\x1b[2Jone\x1b[K\n\x1b[K\nthree\x1b[K\n\x1b[J"; got != want {
		t.Errorf("first frame %q, want %q", got, want)
	}
	if got, want := frame(lines, false), "\x1b[Hone\x1b[K\n\x1b[K\nthree\x1b[K\n\x1b[J"; got != want {
		t.Errorf("redraw %q, want %q", got, want)
	}
}
