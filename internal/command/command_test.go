package command

import (
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/train"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      *Command
		wantReply string // substring of the reply; empty: no reply
	}{
		{name: "add", body: "/train add", want: &Command{Verb: Add}},
		{name: "case-insensitive", body: "/TRAIN Add --Priority HIGH", want: &Command{Verb: Add, Priority: train.PriorityHigh}},
		{name: "options with equals", body: "/train add --priority=high --method=squash", want: &Command{Verb: Add, Priority: train.PriorityHigh, Method: train.MethodSquash}},
		{name: "options with spaces", body: "/train add --method rebase", want: &Command{Verb: Add, Method: train.MethodRebase}},
		{name: "a line of its own among prose", body: "LGTM, thanks!\n\n  /train add  \nsee you", want: &Command{Verb: Add}},
		{name: "crlf", body: "hi\r\n/train remove\r\n", want: &Command{Verb: Remove}},
		{name: "remove", body: "/train remove", want: &Command{Verb: Remove}},
		{name: "retry with method", body: "/train retry --method merge", want: &Command{Verb: Retry, Method: train.MethodMerge}},
		{name: "status", body: "/train status", want: &Command{Verb: Status}},
		{name: "help", body: "/train help", want: &Command{Verb: Help}},
		{name: "first command wins", body: "/train status\n/train add", want: &Command{Verb: Status}},
		{name: "no command", body: "looks good to me"},
		{name: "mid-line mention is not a command", body: "use /train add when ready"},
		{name: "longer word", body: "/trainee add"},
		{name: "quoted", body: "> /train add\n\nquoting you"},
		{name: "quoted with space", body: "  >  /train add"},
		{name: "fenced backticks", body: "```\n/train add\n```"},
		{name: "fenced tildes with info", body: "~~~sh\n/train add\n~~~\n"},
		{name: "command after a closed fence", body: "```\nx\n```\n/train retry", want: &Command{Verb: Retry}},
		{name: "unclosed fence hides the rest", body: "```\n/train add"},
		{name: "missing subcommand", body: "/train", wantReply: "`/train` needs a subcommand."},
		{name: "unknown subcommand", body: "/train merge-now", wantReply: "Unknown command `/train merge-now`."},
		{name: "typo", body: "/train ad", wantReply: "Unknown command `/train ad`."},
		{name: "unknown option", body: "/train add --force", wantReply: "Cannot run `/train add`: unknown option `--force`."},
		{name: "option on a verb without options", body: "/train remove --priority high", wantReply: "Cannot run `/train remove`: unknown option `--priority`."},
		{name: "bad value", body: "/train add --priority urgent", wantReply: "`urgent` is not a valid value for `--priority`; use one of: high, normal."},
		{name: "missing value", body: "/train add --method", wantReply: "option `--method` needs a value: merge, squash, rebase."},
		{name: "stray argument", body: "/train add now", wantReply: "unexpected argument `now`"},
		{name: "repeated option", body: "/train add --method squash --method merge", wantReply: "option `--method` given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Parse(tt.body)
			switch {
			case tt.want != nil:
				if got.Command == nil || *got.Command != *tt.want || got.Reply != "" {
					t.Fatalf("Parse(%q) = %+v %q, want command %+v", tt.body, got.Command, got.Reply, *tt.want)
				}
			case tt.wantReply != "":
				if got.Command != nil || !strings.Contains(got.Reply, tt.wantReply) {
					t.Fatalf("Parse(%q) reply = %q, want it to contain %q", tt.body, got.Reply, tt.wantReply)
				}
				if !strings.Contains(got.Reply, "Usage:") {
					t.Fatalf("reply lacks the usage: %q", got.Reply)
				}
			default:
				if !got.Ignored() {
					t.Fatalf("Parse(%q) = %+v, want it ignored", tt.body, got)
				}
			}
		})
	}
}

func TestUsageListsEveryVerb(t *testing.T) {
	u := Usage()
	for _, want := range []string{
		"`/train add [--priority high|normal] [--method merge|squash|rebase]`",
		"`/train remove`", "`/train retry", "`/train status`", "`/train help`",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("usage lacks %q:\n%s", want, u)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/train add", "/train add --priority=high", "> /train add", "```\n/train add\n```",
		"/train", "/train add --method", "/TRAIN RETRY --METHOD SQUASH", "\x00/train add", "/train add --=",
		"~~~~\n~~~\n/train add\n~~~~\n/train help", "/train\t\tstatus",
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
	})
}
