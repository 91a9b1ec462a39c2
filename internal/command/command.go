// Package command parses the `/train` commands users write in merge request
// comments. Parsing is pure: a comment yields a command to run, a reply to
// post (usage or what is wrong), or nothing at all.
package command

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trainyard/trainyard/internal/train"
)

// Verb is what a command asks for.
type Verb string

const (
	Add    Verb = "add"
	Remove Verb = "remove"
	Retry  Verb = "retry"
	Status Verb = "status"
	Pause  Verb = "pause"
	Resume Verb = "resume"
	// Freeze holds the train's target with a reason; cars are still
	// tested. Unfreeze lifts it.
	Freeze   Verb = "freeze"
	Unfreeze Verb = "unfreeze"
	Help     Verb = "help"
)

// Command is a parsed, valid command.
type Command struct {
	Verb     Verb
	Priority train.Priority // add and retry only; empty: normal
	Method   train.Method   // add and retry only; empty: the train's
	Reason   string         // freeze only: the words after the verb
}

// Result is the outcome of parsing a comment: at most one of Command and
// Reply is set; neither means the comment holds no command.
type Result struct {
	Command *Command
	// Reply is the Markdown to answer with: usage, or what is wrong. It may
	// repeat what the user wrote, always through Quote, so posting it cannot
	// mention anyone, link anywhere or inject HTML; and never at the start
	// of a line, so GitLab cannot take it for a quick action. Anyone who can
	// comment can make the parser produce a reply: check that the author may
	// use the train before posting it.
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
	// text names the free text the verb takes after it, required; ""
	// for a verb that takes options only.
	text string
}

// MaxReason bounds the free text of a command, in characters.
const MaxReason = 200

// verbs is the grammar; help is generated from it.
func verbs() []verbSpec {
	addOptions := []option{
		{name: "priority", values: []string{"urgent", "high", "normal"}, set: func(c *Command, v string) { c.Priority = train.Priority(v) }},
		{name: "method", values: []string{"merge", "squash", "rebase"}, set: func(c *Command, v string) { c.Method = train.Method(v) }},
	}
	return []verbSpec{
		{verb: Add, summary: "put this merge request on the merge train", options: addOptions},
		{verb: Remove, summary: "take this merge request off the merge train"},
		{verb: Retry, summary: "build and test this merge request again, or put it back on the train", options: addOptions},
		{verb: Status, summary: "show this merge request's place and state on the train"},
		{verb: Pause, summary: "pause this merge request's merge train: nothing new starts or merges"},
		{verb: Resume, summary: "resume this merge request's merge train"},
		{verb: Freeze, text: "REASON", summary: "freeze this merge request's merge train: cars are still tested, nothing merges until it is unfrozen"},
		{verb: Unfreeze, summary: "lift the freeze of this merge request's merge train"},
		{verb: Help, summary: "show this help"},
	}
}

// Prefix starts every command line.
const Prefix = "/train"

// maxParsed bounds the comments read as Markdown. Goldmark takes time
// quadratic in some nestings (`>>>>…`, `[a]([a](…`, `*a_*a_…`): about 0.3s
// at this size but minutes at the million characters GitLab allows.
const maxParsed = 16 << 10

// Parse reads the command in a comment as the forge renders it: the first
// paragraph directly in the comment whose first line starts with `/train`.
// Lines in code, HTML, quotes, lists, headings, `<pre>` or `<details>`, and
// later lines of a paragraph, never count. A comment too long to parse
// safely is answered with a reply, if any line starts with `/train`.
func Parse(body string) Result {
	if !MayHold(body) {
		return Result{}
	}
	if len(body) > maxParsed {
		return Result{Reply: fmt.Sprintf("This comment is too long (over %d bytes) to look for a `%s` command in: post the command in a comment of its own.", maxParsed, Prefix)}
	}
	line, ok := commandLine(body)
	if !ok {
		return Result{}
	}
	words := strings.Fields(line)[1:]
	if len(words) == 0 {
		return Result{Reply: "`" + Prefix + "` needs a subcommand.\n\n" + Usage()}
	}
	v, ok := findVerb(words[0])
	if !ok {
		return Result{Reply: fmt.Sprintf("Unknown command %s.\n\n%s", train.Quote(Prefix+" "+words[0]), Usage())}
	}
	return parseOptions(v, words[1:])
}

// isCommandLine reports whether a line's first word is the prefix, in any
// case.
func isCommandLine(line string) bool {
	word := strings.TrimLeftFunc(line, unicode.IsSpace)
	if end := strings.IndexFunc(word, unicode.IsSpace); end >= 0 {
		word = word[:end]
	}
	// ToLower maps rune to rune, so a longer word cannot become the prefix;
	// counting first spares lowercasing a megabyte.
	return utf8.RuneCountInString(word) == utf8.RuneCountInString(Prefix) && strings.ToLower(word) == Prefix
}

// parseOptions reads the arguments after the verb. Words are matched in
// any case but quoted back as written.
func parseOptions(v verbSpec, args []string) Result {
	c := &Command{Verb: v.verb}
	if v.text != "" {
		return parseText(v, c, args)
	}
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "--") {
			return bad(v, "unexpected argument "+train.Quote(arg))
		}
		name, value, hasValue := strings.Cut(arg[len("--"):], "=")
		opt, ok := findOption(v, name)
		if !ok {
			return bad(v, "unknown option "+train.Quote("--"+name))
		}
		if seen[opt.name] {
			return bad(v, fmt.Sprintf("option `--%s` given twice", opt.name))
		}
		seen[opt.name] = true
		if !hasValue && i+1 < len(args) {
			i++
			value = args[i]
		}
		if value == "" {
			return bad(v, fmt.Sprintf("option `--%s` needs a value: %s", opt.name, strings.Join(opt.values, ", ")))
		}
		canonical := strings.ToLower(value)
		if !slices.Contains(opt.values, canonical) {
			return bad(v, fmt.Sprintf("%s is not a valid value for `--%s`; use one of: %s", train.Quote(value), opt.name, strings.Join(opt.values, ", ")))
		}
		opt.set(c, canonical)
	}
	return Result{Command: c}
}

// parseText takes every word after the verb as its text, spaced by one
// space.
func parseText(v verbSpec, c *Command, args []string) Result {
	text := strings.Join(args, " ")
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		return bad(v, "it needs a "+strings.ToLower(v.text)+" after it, like `"+Prefix+" "+string(v.verb)+" release 2.0 is being cut`")
	case n > MaxReason:
		return bad(v, fmt.Sprintf("the %s is %d characters long; at most %d are kept", strings.ToLower(v.text), n, MaxReason))
	case !utf8.ValidString(text) || strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		return bad(v, "the "+strings.ToLower(v.text)+" holds control or formatting characters")
	}
	c.Reason = text
	return Result{Command: c}
}

func findVerb(name string) (verbSpec, bool) {
	name = strings.ToLower(name)
	for _, v := range verbs() {
		if string(v.verb) == name {
			return v, true
		}
	}
	return verbSpec{}, false
}

func findOption(v verbSpec, name string) (option, bool) {
	name = strings.ToLower(name)
	for _, o := range v.options {
		if o.name == name {
			return o, true
		}
	}
	return option{}, false
}

func bad(v verbSpec, problem string) Result {
	return Result{Reply: fmt.Sprintf("Cannot run `%s %s`: %s.\n\n%s", Prefix, v.verb, problem, Usage())}
}

// Usage is the help text, generated from the grammar.
func Usage() string {
	var b strings.Builder
	b.WriteString("Usage:\n\n")
	for _, v := range verbs() {
		fmt.Fprintf(&b, "- `%s %s", Prefix, v.verb)
		if v.text != "" {
			fmt.Fprintf(&b, " %s", v.text)
		}
		for _, o := range v.options {
			fmt.Fprintf(&b, " [--%s %s]", o.name, strings.Join(o.values, "|"))
		}
		fmt.Fprintf(&b, "`: %s\n", v.summary)
	}
	return b.String()
}
