package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/trainyard/trainyard/pkg/api"
)

// formats are the values of -o.
func formatsOf() []string { return []string{"table", "json", "yaml"} }

// printer writes API answers as tables for people or as JSON or YAML for
// programs.
type printer struct {
	w      io.Writer
	format string
	colour bool
}

func newPrinter(w io.Writer, format string) (*printer, error) {
	if !slices.Contains(formatsOf(), format) {
		return nil, usagef("-o %q: want table, json or yaml", format)
	}
	_, noColour := os.LookupEnv("NO_COLOR")
	return &printer{w: w, format: format, colour: !noColour && isTerminal(w)}, nil
}

// isTerminal reports whether w is a character device, as a terminal is.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// print writes v as JSON or YAML, or calls table.
func (p *printer) print(v any, table func() error) error {
	switch p.format {
	case "json":
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		return writeYAML(p.w, v)
	}
	return table()
}

// writeYAML writes v with the keys and values its JSON has: the JSON is
// read back as a YAML node tree, which keeps the key order, and written in
// block style.
func writeYAML(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("encode as YAML: %w", err)
	}
	plain(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("encode as YAML: %w", err)
	}
	return enc.Close()
}

// plain drops the flow style and quoting the JSON gave each node; the
// encoder quotes what needs it.
func plain(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plain(c)
	}
}

// table starts an aligned table with the given header.
func (p *printer) table(header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

func row(tw *tabwriter.Writer, cells ...string) {
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// ANSI colours, all of one length: tabwriter counts the escape bytes as
// width, so a column lines up only when every cell in it, header too,
// carries the same number of them.
const (
	colourDefault = "\x1b[39m"
	colourGreen   = "\x1b[32m"
	colourRed     = "\x1b[31m"
	colourYellow  = "\x1b[33m"
	colourReset   = "\x1b[0m"
)

// state colours a state cell (or its header) when colour is on.
func (p *printer) state(s string) string {
	s = clean(s)
	if !p.colour {
		return s
	}
	c := colourDefault
	switch s {
	case api.StateMerged, api.StatePassed:
		c = colourGreen
	case api.StateEvicted, api.StateFailed:
		c = colourRed
	case api.StateRunning, api.StateStarting:
		c = colourYellow
	}
	return c + s + colourReset
}

func (p *printer) trainList(ts []api.TrainSummary) error {
	if len(ts) == 0 {
		_, err := fmt.Fprintln(p.w, "No trains.")
		return err
	}
	// The hold's column only when a train is held.
	held := slices.ContainsFunc(ts, func(t api.TrainSummary) bool { return t.Hold != nil })
	header := []string{"FORGE", "PROJECT", "BRANCH", "CARS", "RUNNING", "STATUS"}
	if held {
		header = append(header, "HOLD")
	}
	tw := p.table(header...)
	for _, t := range ts {
		cells := []string{clean(t.Forge), clean(t.Project), clean(t.Branch), fmt.Sprint(t.Cars), fmt.Sprint(t.Running), trainStatus(t.Paused, t.Draining, t.Hold)}
		if held {
			cells = append(cells, holdCell(t.Hold))
		}
		row(tw, cells...)
	}
	return tw.Flush()
}

// trainStatus is "active", or what keeps a train from it: paused, frozen
// (by someone) or held (by its schedule), draining.
func trainStatus(paused, draining bool, h *api.Hold) string {
	var s []string
	if paused {
		s = append(s, "paused")
	}
	switch {
	case h == nil:
	case h.Kind == api.HoldFrozen:
		s = append(s, "frozen")
	default:
		s = append(s, "held")
	}
	if draining {
		s = append(s, "draining")
	}
	if len(s) == 0 {
		return "active"
	}
	return strings.Join(s, ", ")
}

// holdCell says in a table cell why a train is held and until when.
func holdCell(h *api.Hold) string {
	if h == nil {
		return "-"
	}
	why := h.Reason
	switch h.Kind {
	case api.HoldFreeze:
		why = "freeze period"
		if h.Reason != "" {
			why += ": " + h.Reason
		}
	case api.HoldMergeWindow:
		why = "outside merge windows (" + h.Reason + ")"
	}
	if !h.Until.IsZero() {
		why += ", until " + localTime(h.Until)
	}
	return oneLine(why, 100)
}

func (p *printer) train(t api.Train) error {
	var more []string
	if t.Paused {
		more = append(more, ", paused")
	}
	if t.Draining {
		more = append(more, ", draining (no new cars)")
	}
	if _, err := fmt.Fprintf(p.w, "Train %s of %s (%s): %s, testing up to %d at once%s\n",
		clean(t.Branch), clean(t.Project), clean(t.Forge), plural(len(t.Cars), "car"), t.MaxParallel, strings.Join(more, "")); err != nil {
		return err
	}
	if h := t.Hold; h != nil {
		// The sentence names the reason and, for a hold that ends by
		// itself, when.
		if _, err := fmt.Fprintf(p.w, "Nothing merges while %s.\n", oneLine(h.Sentence, 400)); err != nil {
			return err
		}
	}
	if len(t.Cars) > 0 {
		tw := p.table("POS", "MR", p.state("STATE"), "PIPELINE", "ON TRAIN", "MERGE IN", "TITLE")
		for _, c := range t.Cars {
			eta := "-"
			switch {
			case c.EstimatedMerge != nil:
				eta = "~" + short(c.EstimatedMerge.Std())
			case t.Hold != nil:
				eta = "held"
			}
			row(tw, fmt.Sprint(c.Position), carLabel(t, c), p.state(c.State), carPipeline(t, c),
				short(c.TimeOnTrain.Std()), eta, clean(c.Title))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return p.inLanes(t)
}

// inLanes lists the MRs being tested in their lanes' trains, with where
// each stands in each lane: "api (passed), web (testing)".
func (p *printer) inLanes(t api.Train) error {
	if len(t.InLanes) == 0 {
		return nil
	}
	if _, err := fmt.Fprintf(p.w, "Tested in their lanes first: %s\n", plural(len(t.InLanes), "merge request")); err != nil {
		return err
	}
	tw := p.table("MR", "LANES", "ADDED BY", "TITLE")
	for _, lc := range t.InLanes {
		row(tw, label(lc.Label, lc.MR), laneStates(lc), clean(lc.AddedBy), clean(lc.Title))
	}
	return tw.Flush()
}

// laneStates says where an MR stands in each of its lanes.
func laneStates(lc api.LaneCar) string {
	ls := make([]string, len(lc.Lanes))
	for i, l := range lc.Lanes {
		ls[i] = clean(l) + " (testing)"
		if slices.Contains(lc.Passed, l) {
			ls[i] = clean(l) + " (passed)"
		}
	}
	return strings.Join(ls, ", ")
}

// carLabel is the car's MR, with its priority above normal and the MRs
// it merges after, and the lanes it touches: "!14 urgent after !12 [api]".
func carLabel(t api.Train, c api.Car) string {
	s := label(c.Label, c.MR)
	if c.Priority != "" {
		s += " " + clean(c.Priority)
	}
	var deps []string
	for _, d := range c.DependsOn {
		l := label("", d)
		for _, o := range t.Cars {
			if o.MR == d {
				l = label(o.Label, o.MR)
			}
		}
		deps = append(deps, l)
	}
	if len(deps) > 0 {
		s += " after " + strings.Join(deps, ",")
	}
	if len(c.Lanes) > 0 {
		lanes := make([]string, len(c.Lanes))
		for i, l := range c.Lanes {
			lanes[i] = clean(l)
		}
		s += " [" + strings.Join(lanes, ",") + "]"
	}
	return s
}

// carPipeline names what tests a car: its pipeline, marked while it is
// tested apart after a failure, or the pipeline of the batch it rides in.
func carPipeline(t api.Train, c api.Car) string {
	switch {
	case c.TestedWith != 0:
		with := label("", c.TestedWith)
		for _, o := range t.Cars {
			if o.MR == c.TestedWith {
				with = label(o.Label, o.MR)
			}
		}
		return "with " + with
	case c.Bisecting:
		return pipeline(c.Pipeline) + " (bisect)"
	}
	return pipeline(c.Pipeline)
}

func (p *printer) history(hs []api.HistoryEntry) error {
	if len(hs) == 0 {
		_, err := fmt.Fprintln(p.w, "No merge request has left this train.")
		return err
	}
	tw := p.table("LEFT", "MR", p.state("STATE"), "REASON", "PIPELINE", "TITLE")
	for _, h := range hs {
		row(tw, localTime(h.LeftAt), label(h.Label, h.MR), p.state(h.State), clean(h.ReasonCode), pipeline(h.Pipeline), clean(h.Title))
	}
	return tw.Flush()
}

func (p *printer) mrStatus(past string, st api.MRStatus) error {
	where := "not on any train"
	switch {
	case st.Car != nil:
		where = fmt.Sprintf("on the train for %s at position %d, %s", clean(st.Branch), st.Car.Position, p.state(st.Car.State))
	case st.InLanes != nil:
		where = fmt.Sprintf("on the train for %s, tested in its lanes first: %s", clean(st.Branch), laneStates(*st.InLanes))
	}
	_, err := fmt.Fprintf(p.w, "%s %s of %s: %s.\n", past, label(st.Label, st.MR), clean(st.Project), where)
	return err
}

func (p *printer) paused(past string, t api.Train) error {
	_, err := fmt.Fprintf(p.w, "%s the train for %s of %s (%s).\n", past, clean(t.Branch), clean(t.Project), plural(len(t.Cars), "car"))
	return err
}

// unchanged says that a steering command found the train as it would
// have left it.
func (p *printer) unchanged(already string, t api.Train) error {
	_, err := fmt.Fprintf(p.w, "The train for %s of %s %s; nothing changed (%s).\n", clean(t.Branch), clean(t.Project), already, plural(len(t.Cars), "car"))
	return err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func pipeline(id int64) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprintf("#%d", id)
}

func localTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }

// short writes a duration the way people say it: 45s, 6m, 6m30s, 2h05m,
// 3d04h.
func short(d time.Duration) string {
	s := max(0, int64(d.Round(time.Second)/time.Second))
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600 && s%60 == 0:
		return fmt.Sprintf("%dm", s/60)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

func (p *printer) deadLetters(dls []api.DeadLetter) error {
	if len(dls) == 0 {
		_, err := fmt.Fprintln(p.w, "No dead letters.")
		return err
	}
	tw := p.table("ID", "FAILED AT", "DELIVERIES", "FORGE", "PROJECT", "KIND", "MR", "REASON")
	for _, d := range dls {
		row(tw, clean(d.ID), localTime(d.FailedAt), fmt.Sprint(d.Deliveries), orDash(oneLine(d.Forge, 20)),
			orDash(oneLine(d.Project, 60)), orDash(oneLine(d.Kind, 20)), mrOrDash(d.MR), oneLine(d.Reason, 80))
	}
	return tw.Flush()
}

func (p *printer) deadLetter(d api.DeadLetter) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Dead letter %s\n", clean(d.ID))
	field := func(name, value string) { fmt.Fprintf(&b, "%-12s%s\n", name+":", clean(value)) }
	field("Entry", d.Entry)
	field("Failed at", localTime(d.FailedAt))
	field("Deliveries", fmt.Sprint(d.Deliveries))
	field("Delivery", orDash(d.Delivery))
	field("Forge", orDash(d.Forge))
	field("Project", orDash(d.Project))
	field("Kind", orDash(d.Kind))
	field("MR", mrOrDash(d.MR))
	// Whole, lines and all: the table cuts it, this is where to read it.
	fmt.Fprintf(&b, "%-12s%s\n", "Reason:", printable(d.Reason, true))
	switch {
	case len(d.Event) > 0:
		var ev bytes.Buffer
		if err := json.Indent(&ev, d.Event, "", "  "); err != nil {
			return fmt.Errorf("event of dead letter %s: %w", d.ID, err)
		}
		fmt.Fprintf(&b, "Event:\n%s\n", escapeInvisible(ev.String()))
	case d.Data != "":
		// Quoted, which escapes what is not printable, and so exact.
		fmt.Fprintf(&b, "%-12s%s (not JSON)\n", "Data:", strconv.Quote(d.Data))
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}

func (p *printer) requeued(rq api.Requeued) error {
	_, err := fmt.Fprintf(p.w, "Requeued dead letter %s as event %s.\n", clean(rq.ID), clean(rq.Entry))
	return err
}

// oneLine makes s one line of at most n characters, as clean does, and
// cuts a longer text with an ellipsis.
func oneLine(s string, n int) string {
	s = clean(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// clean makes text the server passes on (titles, usernames, branches,
// reasons: what forges and their users wrote, hostile or not) one line
// that a terminal shows rather than obeys: control characters (escapes,
// bells, carriage returns, line breaks, tabs, C1 controls) become
// spaces, runs of spaces one, and bidirectional controls, which make
// text read otherwise than it is, are dropped. Tables need it too: a tab
// or line break would shift their columns.
func clean(s string) string {
	return strings.Join(strings.Fields(printable(s, false)), " ")
}

// printable replaces control characters with spaces, line breaks too
// unless keepLines, and drops bidirectional controls.
func printable(s string, keepLines bool) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' && keepLines:
			return r
		case unicode.IsControl(r):
			return ' '
		case unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
}

// escapeInvisible writes the control characters of indented JSON other
// than its white space (DEL and the C1 controls, which encoders leave
// raw, for a terminal to act on) and the bidirectional controls as \u
// escapes. Valid JSON has them only inside strings, where the escape
// means the same character.
func escapeInvisible(js string) string {
	var b strings.Builder
	for _, r := range js {
		if (unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r') || unicode.Is(unicode.Bidi_Control, r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mrOrDash(mr int64) string {
	if mr == 0 {
		return "-"
	}
	return label("", mr)
}

// label is the forge's way to write an MR, as the server gave it ("#12"
// on GitHub), or GitLab's "!12" from a server that gives none.
func label(given string, mr int64) string {
	if given != "" {
		return clean(given)
	}
	return fmt.Sprintf("!%d", mr)
}
