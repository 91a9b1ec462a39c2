package train

import (
	"cmp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxQuoted is how many characters of user text Quote keeps.
const maxQuoted = 100

// Quote renders user text as a Markdown code span, which GitLab and GitHub
// show literally: no mention, reference, link, image, emphasis or HTML can
// come out of it. Text longer than 100 characters is cut and ends in
// "…"; line breaks and other spacing become spaces, and control and
// formatting characters (bidirectional overrides among them) become "�",
// so the span stays on one line and reads as what it holds.
func Quote(s string) string {
	s = printable(cut(s))
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	return fence + pad(s) + fence
}

// cut keeps at most maxQuoted runes, the last of them "…" when it cuts.
func cut(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	if utf8.RuneCountInString(s) <= maxQuoted {
		return s
	}
	n := 0
	for i := range s {
		if n == maxQuoted-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// MaxTitle is GitLab's own bound on an MR title.
const MaxTitle = 255

// TitleLine is an MR title made one line of at most MaxTitle runes, for
// a chat notice or a commit message: its own line breaks would start
// lines that look like Trainyard's (or trailers, such as Signed-off-by,
// in a commit the bot authors), and format characters (a right-to-left
// override) would turn the text after them around.
func TitleLine(s string) string {
	s = strings.Join(strings.Fields(printable(s)), " ")
	if r := []rune(s); len(r) > MaxTitle {
		s = string(r[:MaxTitle-1]) + "…"
	}
	return s
}

func printable(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return utf8.RuneError
		}
		return r
	}, s)
}

func longestRun(s string, c byte) int {
	longest, run := 0, 0
	for i := range len(s) {
		if s[i] != c {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return longest
}

// pad adds the spaces CommonMark strips from a code span, so that a
// backtick at either end does not join the fence and spaces at both ends
// survive.
func pad(s string) string {
	switch {
	case strings.Trim(s, " ") == "":
		// CommonMark strips nothing from spaces alone, and needs one.
		return cmp.Or(s, " ")
	case strings.HasPrefix(s, "`"), strings.HasPrefix(s, " "), strings.HasSuffix(s, "`"), strings.HasSuffix(s, " "):
		return " " + s + " "
	}
	return s
}

// Clip cuts s to at most n bytes, on a character boundary, ending in "…"
// when it cuts: for text from outside (an error, a file) that must fit a
// comment or a record.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := max(n-len("…"), 0)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
