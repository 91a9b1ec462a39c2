package train

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"squash", "`squash`"},
		{"@alice", "`@alice`"},
		{"`@alice`", "`` `@alice` ``"},
		{"a``b", "```a``b```"},
		{"<img src=x onerror=alert(1)>", "`<img src=x onerror=alert(1)>`"},
		{"", "` `"},
		{"  ", "`  `"},
		{" x", "`  x `"},
		{"line\nbreak\r\n", "` line break   `"},
		{"a\x00b\x7fc", "`a\uFFFDb\uFFFDc`"},
		{"\u202egnp.exe", "`\uFFFDgnp.exe`"},
		{"\xff", "`\uFFFD`"},
		{strings.Repeat("a", 100), "`" + strings.Repeat("a", 100) + "`"},
		{strings.Repeat("é", 101), "`" + strings.Repeat("é", 99) + "…`"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", " ", "`", "``a`", "@alice", "<b>", " ` ", "a\nb", "\\", "x\\`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		if n := utf8.RuneCountInString(q); n > maxQuoted+2*(maxQuoted+1)+2 {
			t.Fatalf("Quote(%q) is %d characters", s, n)
		}
		// Between words, as replies use it.
		src := []byte("x " + q + " y")
		para := goldmark.DefaultParser().Parse(text.NewReader(src)).FirstChild()
		span := para.FirstChild().NextSibling()
		if para.ChildCount() != 3 || span.Kind() != ast.KindCodeSpan {
			t.Fatalf("Quote(%q) = %q is not one code span between words", s, q)
		}
		want := printable(cut(s))
		if want == "" {
			want = " " // a code span cannot be empty
		}
		if got := codeText(span, src); got != want {
			t.Fatalf("Quote(%q) = %q shows %q, want %q", s, q, got, want)
		}
	})
}

func codeText(span ast.Node, src []byte) string {
	var b strings.Builder
	for c := span.FirstChild(); c != nil; c = c.NextSibling() {
		b.Write(c.(*ast.Text).Segment.Value(src))
	}
	return b.String()
}

// A branch name is forge text: git allows a backtick in it, which must
// not close the code span it is shown in and let the rest (a mention, a
// link) out into the note.
func TestBranchNamesStayInTheirCodeSpan(t *testing.T) {
	const branch = "rel`@all`x"
	for _, msg := range []string{
		msgAdded(branch, 2, 0), msgDraining(branch), msgNotOnTrain(branch),
		msgMerged(branch, "0123456789abcdef", 7).String(), msgConflict(branch, true, []string{"a.go"}),
		msgConflict(branch, false, []string{"a.go"}),
	} {
		src := []byte(msg)
		var spans []string
		ast.Walk(goldmark.DefaultParser().Parse(text.NewReader(src)), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
			if entering && n.Kind() == ast.KindCodeSpan {
				spans = append(spans, codeText(n, src))
				return ast.WalkSkipChildren, nil
			}
			return ast.WalkContinue, nil
		})
		if len(spans) == 0 || spans[0] != branch {
			t.Errorf("%q shows the branch as code spans %q, want %q whole in the first", msg, spans, branch)
		}
	}
}

// A conflict list cut where the car keeps it says there may be more.
func TestConflictListSaysWhenItWasCut(t *testing.T) {
	paths := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("p%03d", i)
		}
		return out
	}
	if got := msgConflict("main", true, paths(25)); !strings.HasSuffix(got, " and 5 more") {
		t.Errorf("25 paths: %q", got)
	}
	if got := msgConflict("main", true, paths(KeptConflictPaths)); !strings.HasSuffix(got, fmt.Sprintf(" and at least %d more", KeptConflictPaths-maxConflictPaths)) {
		t.Errorf("a list cut at %d: %q", KeptConflictPaths, got)
	}
}

// A title is one line of at most MaxTitle runes, without control or
// format characters.
func TestTitleLine(t *testing.T) {
	if got := TitleLine(strings.Repeat("é", 300)); len([]rune(got)) != MaxTitle || !strings.HasSuffix(got, "…") {
		t.Errorf("a 300-rune title became %d runes", len([]rune(got)))
	}
	if got, want := TitleLine(" Fix\r\n\tit\u202e now\x00 "), "Fix it\ufffd now\ufffd"; got != want {
		t.Errorf("TitleLine = %q, want %q", got, want)
	}
}
