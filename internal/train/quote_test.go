package train

import (
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
