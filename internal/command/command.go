// Package command parses the `/train` commands users write in merge request
// comments. Parsing is pure: a comment yields a command to run, a reply to
// post (usage or what is wrong), or nothing at all.
package command

import (
	"fmt"
	"strings"

	"github.com/trainyard/trainyard/internal/train"
)

// Verb is what a command asks for.
type Verb string

const (
	Add    Verb = "add"
	Remove Verb = "remove"
	Retry  Verb = "retry"
	Status Verb = "status"
	Help   Verb = "help"
)

// Command is a parsed, valid command.
type Command struct {
	Verb     Verb
	Priority train.Priority // add and retry only; empty: normal
	Method   train.Method   // add and retry only; empty: the train's
}

// Result is the outcome of parsing a comment: at most one of Command and
// Reply is set; neither means the comment holds no command.
type Result struct {
	Command *Command
	// Reply is the text to answer with: usage, or what is wrong.
	Reply string
}

// Ignored reports whether the comment holds no command at all.
func (r Result) Ignored() bool { return r.Command == nil && r.Reply == "" }

type option struct {
	name   string
	values []string
	set    func(*Command, string)
}

type verbSpec struct {
	verb    Verb
	summary string
	options []option
}

// verbs is the grammar; help is generated from it.
func verbs() []verbSpec {
	addOptions := []option{
		{name: "priority", values: []string{"high", "normal"}, set: func(c *Command, v string) { c.Priority = train.Priority(v) }},
		{name: "method", values: []string{"merge", "squash", "rebase"}, set: func(c *Command, v string) { c.Method = train.Method(v) }},
	}
	return []verbSpec{
		{verb: Add, summary: "put this merge request on the merge train", options: addOptions},
		{verb: Remove, summary: "take this merge request off the merge train"},
		{verb: Retry, summary: "build and test this merge request again, or put it back on the train", options: addOptions},
		{verb: Status, summary: "show this merge request's place and state on the train"},
		{verb: Help, summary: "show this help"},
	}
}

// Prefix starts every command line.
const Prefix = "/train"

// Parse reads the first `/train` line of a comment that is neither quoted
// nor inside a fenced code block.
func Parse(body string) Result {
	line, ok := commandLine(body)
	if !ok {
		return Result{}
	}
	fields := strings.Fields(strings.ToLower(line))
	if len(fields) == 1 {
		return Result{Reply: "`/train` needs a subcommand.\n\n" + Usage()}
	}
	name := fields[1]
	for _, v := range verbs() {
		if string(v.verb) == name {
			return parseOptions(v, fields[2:])
		}
	}
	return Result{Reply: fmt.Sprintf("Unknown command `/train %s`.\n\n%s", name, Usage())}
}

func parseOptions(v verbSpec, args []string) Result {
	c := &Command{Verb: v.verb}
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, hasValue := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if !strings.HasPrefix(arg, "--") {
			return bad(v, fmt.Sprintf("unexpected argument `%s`", arg))
		}
		opt, ok := findOption(v, name)
		if !ok {
			return bad(v, fmt.Sprintf("unknown option `--%s`", name))
		}
		if seen[name] {
			return bad(v, fmt.Sprintf("option `--%s` given twice", name))
		}
		seen[name] = true
		if !hasValue {
			if i+1 >= len(args) {
				return bad(v, fmt.Sprintf("option `--%s` needs a value: %s", name, strings.Join(opt.values, ", ")))
			}
			i++
			value = args[i]
		}
		if !contains(opt.values, value) {
			return bad(v, fmt.Sprintf("`%s` is not a valid value for `--%s`; use one of: %s", value, name, strings.Join(opt.values, ", ")))
		}
		opt.set(c, value)
	}
	return Result{Command: c}
}

func findOption(v verbSpec, name string) (option, bool) {
	for _, o := range v.options {
		if o.name == name {
			return o, true
		}
	}
	return option{}, false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func bad(v verbSpec, problem string) Result {
	return Result{Reply: fmt.Sprintf("Cannot run `/train %s`: %s.\n\n%s", v.verb, problem, Usage())}
}

// commandLine finds the first line that is a command: it starts with the
// prefix as a word of its own, outside quotes and fenced code.
func commandLine(body string) (string, bool) {
	fence := ""
	for _, raw := range strings.Split(body, "\n") {
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if fence != "" {
			if strings.HasPrefix(line, fence) {
				fence = ""
			}
			continue
		}
		if f := fenceOf(line); f != "" {
			fence = f
			continue
		}
		if strings.HasPrefix(line, ">") {
			continue
		}
		lower := strings.ToLower(line)
		if !strings.HasPrefix(lower, Prefix) {
			continue
		}
		rest := lower[len(Prefix):]
		if rest == "" || rest[0] == ' ' || rest[0] == '\t' {
			return line, true
		}
	}
	return "", false
}

// fenceOf returns the fence a line opens (``` or ~~~, three or more), or "".
func fenceOf(line string) string {
	for _, ch := range []string{"`", "~"} {
		n := 0
		for n < len(line) && line[n:n+1] == ch {
			n++
		}
		if n >= 3 {
			return strings.Repeat(ch, n)
		}
	}
	return ""
}

// Usage is the help text, generated from the grammar.
func Usage() string {
	var b strings.Builder
	b.WriteString("Usage:\n\n")
	for _, v := range verbs() {
		fmt.Fprintf(&b, "- `%s %s", Prefix, v.verb)
		for _, o := range v.options {
			fmt.Fprintf(&b, " [--%s %s]", o.name, strings.Join(o.values, "|"))
		}
		fmt.Fprintf(&b, "`: %s\n", v.summary)
	}
	return b.String()
}
