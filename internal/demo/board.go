package demo

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The live board, what a terminal shows while the train runs: lines is a
// pure function of the board and the terminal's size, and frame turns the
// lines into what overwrites the last board.

// Board limits.
const (
	maxEvents     = 8 // the last events shown under the cars
	defaultWidth  = 80
	defaultHeight = 24
	// minEvents are the lines the events keep (their blank line
	// included) when the cars would fill the screen.
	minEvents = 4
)

// Terminal control sequences of the board.
const (
	cursorHome  = "\x1b[H"
	clearScreen = "\x1b[2J"
	clearLine   = "\x1b[K" // from the cursor to the end of the line
	clearBelow  = "\x1b[J" // from the cursor to the end of the screen
)

// board is what the live board shows.
type board struct {
	Title           string
	Elapsed         time.Duration
	Paused          bool
	Cars            []boardCar
	Merged, Evicted int
	// Events are the last lines of the log, oldest first.
	Events []string
}

// boardCar is one car as the board shows it.
type boardCar struct {
	MR, State, Pipeline, Commit, Title string
}

// lines lays the board out for a terminal of width columns and height
// rows (80×24 when not known). It leaves the last row free, since writing
// a line there would scroll the screen, and cuts lines at width-1
// columns, so none wraps: drawn again at the top, the board never
// scrolls. When the cars do not fit, the last line says how many more
// there are.
func (b board) lines(width, height int) []string {
	if width <= 0 {
		width = defaultWidth
	}
	if height <= 0 {
		height = defaultHeight
	}
	status := fmt.Sprintf("%d on the train, %d merged, %d evicted", len(b.Cars), b.Merged, b.Evicted)
	if b.Paused {
		status += ", paused"
	}
	out := []string{
		fmt.Sprintf("%s  %.1fs", b.Title, b.Elapsed.Seconds()),
		status,
		"",
		carLine("MR", "STATE", "PIPELINE", "COMMIT", "TITLE"),
	}
	room := max(height-1-len(out), 0)
	events := b.Events[max(len(b.Events)-maxEvents, 0):]
	wanted := 0
	if len(events) > 0 {
		wanted = len(events) + 1
	}
	carRows := min(max(len(b.Cars), 1), room)
	if keep := min(wanted, minEvents); room-carRows < keep {
		carRows = max(room-keep, 0)
	}
	out = append(out, carLines(b.Cars, carRows)...)
	if eventRows := min(wanted, room-carRows); eventRows > 1 {
		out = append(out, "")
		out = append(out, events[len(events)-(eventRows-1):]...)
	}
	out = out[:min(len(out), max(height-1, 0))]
	for i, l := range out {
		out[i] = clip(l, width-1)
	}
	return out
}

func carLine(mr, state, pipeline, commit, title string) string {
	return fmt.Sprintf("  %-5s %-9s %-14s %-8.8s  %s", mr, state, pipeline, commit, title)
}

// carLines are the cars in rows lines at most.
func carLines(cars []boardCar, rows int) []string {
	switch {
	case rows <= 0:
		return nil
	case len(cars) == 0:
		return []string{"  (no cars)"}
	}
	shown := cars
	if len(cars) > rows {
		shown = cars[:rows-1]
	}
	out := make([]string, 0, rows)
	for _, c := range shown {
		out = append(out, carLine(c.MR, c.State, c.Pipeline, c.Commit, c.Title))
	}
	if len(shown) < len(cars) {
		out = append(out, fmt.Sprintf("  … and %d more", len(cars)-len(shown)))
	}
	return out
}

// clip cuts s to n characters, the last an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// frame is what draws lines over the last board: the cursor goes home
// (the first time, after clearing the screen), each line overwrites the
// one there and clears what is left of it, and whatever is below the
// board is cleared. Nothing is appended, so the board stays in place.
func frame(lines []string, first bool) string {
	var b strings.Builder
	b.WriteString(cursorHome)
	if first {
		b.WriteString(clearScreen)
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString(clearLine)
		b.WriteString("\n")
	}
	b.WriteString(clearBelow)
	return b.String()
}
