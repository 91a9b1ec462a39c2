package command

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/trainyard/trainyard/internal/train"
)

func cmd(v Verb) Result { return Result{Command: &Command{Verb: v}} }

func withUsage(reply string) Result { return Result{Reply: reply + "\n\n" + Usage()} }

func show(r Result) string {
	if r.Command != nil {
		return fmt.Sprintf("command %+v", *r.Command)
	}
	return fmt.Sprintf("reply %q", r.Reply)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Result // zero: ignored
	}{
		// Commands.
		{name: "add", body: "/train add", want: cmd(Add)},
		{name: "case-insensitive", body: "/TRAIN Add --Priority HIGH", want: Result{Command: &Command{Verb: Add, Priority: train.PriorityHigh}}},
		{name: "upper case", body: "/TRAIN ADD", want: cmd(Add)},
		{name: "options with equals", body: "/train add --priority=high --method=squash", want: Result{Command: &Command{Verb: Add, Priority: train.PriorityHigh, Method: train.MethodSquash}}},
		{name: "options with spaces", body: "/train add --method rebase", want: Result{Command: &Command{Verb: Add, Method: train.MethodRebase}}},
		{name: "remove", body: "/train remove", want: cmd(Remove)},
		{name: "retry with method", body: "/train retry --method merge", want: Result{Command: &Command{Verb: Retry, Method: train.MethodMerge}}},
		{name: "status", body: "/train status", want: cmd(Status)},
		{name: "pause", body: "/train pause", want: cmd(Pause)},
		{name: "resume", body: "/train resume", want: cmd(Resume)},
		{name: "help", body: "/train help", want: cmd(Help)},
		{name: "freeze", body: "/train freeze  Release 2.0\tis being cut", want: Result{Command: &Command{Verb: Freeze, Reason: "Release 2.0 is being cut"}}},
		{name: "freeze takes options as words", body: "/train FREEZE --until friday", want: Result{Command: &Command{Verb: Freeze, Reason: "--until friday"}}},
		{name: "freeze needs a reason", body: "/train freeze", want: withUsage("Cannot run `/train freeze`: it needs a reason after it, like `/train freeze release 2.0 is being cut`.")},
		{name: "freeze reason too long", body: "/train freeze " + strings.Repeat("x", 201), want: withUsage("Cannot run `/train freeze`: the reason is 201 characters long; at most 200 are kept.")},
		{name: "freeze reason with a bidi override", body: "/train freeze a\u202eb", want: withUsage("Cannot run `/train freeze`: the reason holds control or formatting characters.")},
		{name: "unfreeze", body: "/train unfreeze", want: cmd(Unfreeze)},
		{name: "unfreeze takes no words", body: "/train unfreeze now", want: withUsage("Cannot run `/train unfreeze`: unexpected argument `now`.")},
		{name: "words split by tabs", body: "/train\t\tstatus", want: cmd(Status)},

		// Where a command counts: the first line of a top-level paragraph.
		{name: "after a first paragraph", body: "LGTM, thanks!\n\n  /train add  \nsee you", want: cmd(Add)},
		{name: "second line of a paragraph", body: "LGTM\n/train add"},
		// The forge renders "hi /train remove" on one line, so this is no
		// longer a command; a blank line in between makes it one.
		{name: "crlf second line", body: "hi\r\n/train remove\r\n"},
		{name: "crlf", body: "hi\r\n\r\n/train remove\r\n\r\nthanks\r\n", want: cmd(Remove)},
		{name: "first command wins", body: "/train status\n/train add", want: cmd(Status)},
		{name: "first paragraph with a command wins", body: "/train status\n\n/train add", want: cmd(Status)},
		{name: "after a link reference definition", body: "[docs]: https://example.com\n/train add", want: cmd(Add)},
		{name: "no command", body: "looks good to me"},
		{name: "mid-line mention", body: "use /train add when ready"},
		{name: "longer word", body: "/trainee add"},
		{name: "trainfoo", body: "/trainfoo add"},
		{name: "escaped slash", body: `\/train add`},

		// Quotes, lists, headings, inline code.
		{name: "quoted", body: "> /train add\n\nquoting you"},
		{name: "quoted with space", body: "  >  /train add"},
		{name: "nested quote", body: "> > /train add"},
		{name: "lazy line of a quote", body: "> you wrote\n/train add"},
		{name: "after a quote", body: "> you wrote\n\n/train retry", want: cmd(Retry)},
		{name: "in a GitLab multi-line quote", body: ">>>\n/train remove\n>>>"},
		{name: "a paragraph into a GitLab multi-line quote", body: ">>>\nyou wrote\n\n/train remove\n>>>\n\nI disagree"},
		{name: "after a GitLab multi-line quote", body: ">>>\n/train remove\n>>>\n\n/train retry", want: cmd(Retry)},
		{name: "an unclosed GitLab quote fence is text", body: ">>>\n\n/train retry", want: cmd(Retry)},
		{name: "in GitLab front matter", body: "---\n\n/train remove\n\n---"},
		{name: "after GitLab front matter", body: "+++\ntitle = 1\n+++\n\n/train retry", want: cmd(Retry)},
		{name: "quote fences across a code fence reveal nothing", body: ">>>\n~~~\n>>>\n/train add\n~~~"},
		{name: "right after GitLab front matter", body: "+++\ntitle = 1\n+++\n/train retry", want: cmd(Retry)},
		{name: "front matter fences around an HTML comment reveal nothing", body: "+++\nx <!--\n+++\n/train add\n-->"},
		{name: "front matter fences around details reveal nothing", body: "+++\nx <details>\n+++\n/train add"},
		{name: "front matter fences around pre reveal nothing", body: ";;;\nx <pre>\n;;;\n/train add"},
		{name: "list item", body: "- /train add"},
		{name: "ordered list item", body: "1. /train add"},
		{name: "after a list", body: "- done\n\n/train add", want: cmd(Add)},
		{name: "heading", body: "# /train add"},
		{name: "setext heading", body: "/train add\n---"},
		{name: "setext heading with equals", body: "/train add\n==="},
		{name: "inline code", body: "`/train add`"},

		// Code.
		{name: "fenced backticks", body: "```\n/train add\n```"},
		{name: "fenced tildes with info", body: "~~~sh\n/train add\n~~~\n"},
		{name: "command after a closed fence", body: "```\nx\n```\n/train retry", want: cmd(Retry)},
		{name: "unclosed fence hides the rest", body: "```\n/train add"},
		{name: "four-space indent", body: "    /train add"},
		{name: "tab indent", body: "\t/train add"},
		{name: "indented code after a paragraph", body: "Run this:\n\n    /train add"},

		// HTML.
		{name: "pre block", body: "<pre>\n/train add\n</pre>"},
		{name: "pre block with blank lines", body: "<pre>\n\n/train add\n\n</pre>"},
		{name: "pre opened in a div block", body: "<div>\n<pre>\n\n/train add\n\n</pre>\n</div>"},
		{name: "pre opened inline", body: "Try: <pre>\n\n/train add\n\n</pre>"},
		{name: "after a closed pre", body: "<pre>\nx\n</pre>\n\n/train add", want: cmd(Add)},
		{name: "comment", body: "<!-- /train add -->"},
		{name: "multi-line comment", body: "<!--\n/train add\n-->"},
		{name: "comment with blank lines", body: "<!--\n\n/train add\n\n-->"},
		{name: "comment opened in a div block", body: "<div>\n<!--\n\n/train add\n\n-->\n</div>"},
		{name: "after a closed comment", body: "<!-- note -->\n\n/train add", want: cmd(Add)},
		{name: "after an empty comment", body: "<!-->\n\n/train add", want: cmd(Add)},
		{name: "details", body: "<details>\n/train add\n</details>"},
		{name: "details with blank lines", body: "<details>\n\n/train add\n\n</details>"},
		{name: "details with summary", body: "<details><summary>Old</summary>\n\n/train add\n\n</details>"},
		{name: "details in upper case", body: "<DETAILS>\n\n/train add\n\n</DETAILS>"},
		{name: "nested details", body: "<details>\n\n<details>\n\nx\n\n</details>\n\n/train add\n\n</details>"},
		{name: "details opened inline", body: "Old: <details>\n\n/train add\n\n</details>"},
		{name: "unclosed details hides the rest", body: "<details>\n\n/train add"},
		{name: "stray closing tag opens nothing", body: "</details>\n\n<details>\n\n/train add"},
		{name: "after a closed details", body: "<details>\n\nx\n\n</details>\n\n/train add", want: cmd(Add)},
		{name: "after closed nested details", body: "<details>\n\n<details>\n\nx\n\n</details>\n\n</details>\n\n/train retry", want: cmd(Retry)},
		{name: "details inside code hides nothing", body: "```\n<details>\n```\n\n/train add", want: cmd(Add)},
		{name: "other HTML shows its paragraphs", body: "<div>\n\n/train add\n\n</div>", want: cmd(Add)},
		{name: "longer tag name", body: "<prefix>\n\n/train add", want: cmd(Add)},

		// Replies.
		{name: "missing subcommand", body: "/train", want: withUsage("`/train` needs a subcommand.")},
		{name: "unknown subcommand", body: "/train merge-now", want: withUsage("Unknown command `/train merge-now`.")},
		{name: "typo", body: "/train ad", want: withUsage("Unknown command `/train ad`.")},
		{name: "quoted as written", body: "/train Merge-Now", want: withUsage("Unknown command `/train Merge-Now`.")},
		{name: "unknown option", body: "/train add --force", want: withUsage("Cannot run `/train add`: unknown option `--force`.")},
		{name: "option on a verb without options", body: "/train remove --priority high", want: withUsage("Cannot run `/train remove`: unknown option `--priority`.")},
		{name: "pause takes no options", body: "/train pause --method merge", want: withUsage("Cannot run `/train pause`: unknown option `--method`.")},
		{name: "bad value", body: "/train add --priority asap", want: withUsage("Cannot run `/train add`: `asap` is not a valid value for `--priority`; use one of: urgent, high, normal.")},
		{name: "urgent", body: "/train add --priority URGENT", want: Result{Command: &Command{Verb: Add, Priority: train.PriorityUrgent}}},
		{name: "missing value", body: "/train add --method", want: withUsage("Cannot run `/train add`: option `--method` needs a value: merge, squash, rebase.")},
		{name: "empty value", body: "/train add --method=", want: withUsage("Cannot run `/train add`: option `--method` needs a value: merge, squash, rebase.")},
		{name: "stray argument", body: "/train add now", want: withUsage("Cannot run `/train add`: unexpected argument `now`.")},
		{name: "repeated option", body: "/train add --method squash --method merge", want: withUsage("Cannot run `/train add`: option `--method` given twice.")},
		{name: "mention in a value", body: "/train add --method `@alice`", want: withUsage("Cannot run `/train add`: `` `@alice` `` is not a valid value for `--method`; use one of: merge, squash, rebase.")},
		{name: "too long to parse", body: "/train add\n\n" + strings.Repeat("x", maxParsed), want: Result{Reply: "This comment is too long (over 16384 bytes) to look for a `/train` command in: post the command in a comment of its own."}},
		{name: "long without a command", body: strings.Repeat("> /train add ", maxParsed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.body)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %s, want %s", tt.body, show(got), show(tt.want))
			}
		})
	}
}

// The reply must show the user's text inside one code span as goldmark
// itself parses it, never as a mention.
func TestReplyQuotesMentionAsCode(t *testing.T) {
	reply := Parse("/train add --method `@alice`").Reply
	src := []byte(reply)
	doc := goldmark.DefaultParser().Parse(text.NewReader(src))
	var spans []string
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && n.Kind() == ast.KindCodeSpan {
			if s := codeText(n, src); strings.Contains(s, "@alice") {
				spans = append(spans, s)
			}
		}
		return ast.WalkContinue, nil
	})
	if len(spans) != 1 || spans[0] != "`@alice`" {
		t.Fatalf("code spans holding @alice = %q, want one holding exactly `@alice`; reply:\n%s", spans, reply)
	}
	checkInert(t, reply)
}

func TestLongArgumentsGiveShortReplies(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want string // in the reply
	}{
		{name: "quoted cut", n: maxParsed - 100, want: "`" + strings.Repeat("@", 99) + "…`"},
		{name: "too long to parse", n: 1_000_000, want: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := Parse("/train add --method " + strings.Repeat("@", tt.n)).Reply
			if n := utf8.RuneCountInString(reply); n >= 2000 || !strings.Contains(reply, tt.want) {
				t.Fatalf("reply of %d characters, want under 2000 holding %q: %q", n, tt.want, reply)
			}
			checkInert(t, reply)
		})
	}
}

func TestUsage(t *testing.T) {
	want := "Usage:\n\n" +
		"- `/train add [--priority urgent|high|normal] [--method merge|squash|rebase]`: put this merge request on the merge train\n" +
		"- `/train remove`: take this merge request off the merge train\n" +
		"- `/train retry [--priority urgent|high|normal] [--method merge|squash|rebase]`: build and test this merge request again, or put it back on the train\n" +
		"- `/train status`: show this merge request's place and state on the train\n" +
		"- `/train pause`: pause this merge request's merge train: nothing new starts or merges\n" +
		"- `/train resume`: resume this merge request's merge train\n" +
		"- `/train freeze REASON`: freeze this merge request's merge train: cars are still tested, nothing merges until it is unfrozen\n" +
		"- `/train unfreeze`: lift the freeze of this merge request's merge train\n" +
		"- `/train help`: show this help\n"
	if got := Usage(); got != want {
		t.Errorf("Usage() =\n%s\nwant\n%s", got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/train add", "/train add --priority=high", "> /train add", "```\n/train add\n```",
		"/train", "/train add --method", "/TRAIN RETRY --METHOD SQUASH", "\x00/train add", "/train add --=",
		"~~~~\n~~~\n/train add\n~~~~\n/train help", "/train\t\tstatus",
		"<details>\n\n/train add\n\n</details>\n\n/train retry", "<div>\n<!--\n\n/train add\n\n-->\n</div>",
		"/train add --method `@alice`", "/train add --method ``` <b>`@x`</b> ```", "/train [x](http://a) @b",
		"/train add --method=\u202e@alice", "a\r\r/train add", "[a]: /b\n/train add",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := Parse(body)
		if r.Command != nil && r.Reply != "" {
			t.Fatalf("both a command and a reply for %q", body)
		}
		if r.Command != nil && r.Command.Verb == "" {
			t.Fatalf("command without a verb for %q", body)
		}
		if !strings.Contains(strings.ToLower(body), Prefix) && !r.Ignored() {
			t.Fatalf("%q has no %s but was not ignored", body, Prefix)
		}
		if len(body) <= maxParsed {
			if _, ok := commandLine(body); ok && !MayHold(body) {
				t.Fatalf("%q holds a command the quick check misses", body)
			}
		}
		if len(r.Reply) > 4000 {
			t.Fatalf("reply of %d bytes for %q", len(r.Reply), body)
		}
		checkInert(t, r.Reply)
	})
}

func codeText(span ast.Node, src []byte) string {
	var b strings.Builder
	for c := span.FirstChild(); c != nil; c = c.NextSibling() {
		b.Write(c.(*ast.Text).Segment.Value(src))
	}
	return b.String()
}

// checkInert fails unless the reply, parsed the way GitHub extends
// CommonMark, holds only paragraphs, lists, text and code spans, and its
// text outside code holds nothing a forge would turn into a mention,
// reference, link or markup.
func checkInert(t *testing.T, reply string) {
	t.Helper()
	src := []byte(reply)
	gfm := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser()
	doc := gfm.Parse(text.NewReader(src))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.Kind() {
		case ast.KindCodeSpan:
			return ast.WalkSkipChildren, nil
		case ast.KindText:
			if s := string(n.(*ast.Text).Segment.Value(src)); strings.ContainsAny(s, "@#!~$%&<>[]*_\\|") {
				t.Errorf("text %q outside code in reply %q", s, reply)
			}
		case ast.KindDocument, ast.KindParagraph, ast.KindList, ast.KindListItem, ast.KindTextBlock:
		default:
			t.Errorf("%s in reply %q", n.Kind(), reply)
		}
		return ast.WalkContinue, nil
	})
	for line := range strings.Lines(reply) {
		if strings.HasPrefix(strings.TrimLeft(line, " "), "/") {
			t.Errorf("reply line %q could run a GitLab quick action", line)
		}
	}
}
