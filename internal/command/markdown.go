package command

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// MayHold reports whether any line starts with the prefix, cheaply: a
// comment for which it is false holds no command. Every paragraph starts
// a line, so such a comment needs no Markdown parse: that keeps the
// common comment cheap, and a long one without a command from being
// answered as too long.
func MayHold(body string) bool {
	for line := range strings.FieldsFuncSeq(body, isLineEnd) {
		if isCommandLine(line) {
			return true
		}
	}
	return false
}

// isLineEnd also splits at a lone carriage return, which CommonMark
// counts as a line ending: better to parse once too often than to miss a
// command.
func isLineEnd(r rune) bool { return r == '\n' || r == '\r' }

// commandLine finds the first command line as the forge renders the
// comment: the first line of a paragraph directly in the document, not
// hidden by HTML. It returns the raw source line, so the words are the
// user's and not Markdown's rendering of them.
func commandLine(body string) (string, bool) {
	shown, text := visible(body)
	hidden := hideGitLabBlocks(body)
	if hidden == body {
		if len(shown) == 0 {
			return "", false
		}
		return shown[0].text, true
	}
	// GitLab's quotes and front matter hide what CommonMark shows; the
	// blanking that models them does not know code fences, so it must
	// not reveal a line CommonMark hides: the command is the first of the
	// blanked comment on a line that CommonMark shows as paragraph text
	// (front matter right above a command makes them one paragraph).
	// Blanking keeps the lines where they were.
	blanked, _ := visible(hidden)
	for _, c := range blanked {
		if text[c.line] {
			return c.text, true
		}
	}
	return "", false
}

// commandAt is a command line and the number of the line it starts on.
type commandAt struct {
	line int
	text string
}

// visible reads body as CommonMark, with HTML's hiding: its command lines
// in order, and the numbers of every line its visible top-level
// paragraphs hold.
func visible(body string) ([]commandAt, map[int]bool) {
	src := []byte(body)
	doc := goldmark.DefaultParser().Parse(text.NewReader(src))
	var vis visibility
	var cmds []commandAt
	lines := map[int]bool{}
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if p, ok := n.(*ast.Paragraph); ok && !vis.hidden() && p.Lines().Len() > 0 {
			// Inline HTML can hide the rest of its paragraph (a comment,
			// <details>, <pre> opened on one line): such a paragraph shows
			// its first line alone, as far as this can tell.
			shown := p.Lines().Len()
			if holdsHTML(p) {
				shown = 1
			}
			for i := range shown {
				lines[bytes.Count(src[:p.Lines().At(i).Start], []byte{'\n'})] = true
			}
			first := p.Lines().At(0)
			if line := string(first.Value(src)); isCommandLine(line) {
				cmds = append(cmds, commandAt{bytes.Count(src[:first.Start], []byte{'\n'}), line})
			}
		}
		vis.follow(n, src)
	}
	return cmds, lines
}

// holdsHTML reports whether n holds inline HTML.
func holdsHTML(n ast.Node) bool {
	found := false
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && c.Kind() == ast.KindRawHTML {
			found = true
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	return found
}

// hideGitLabBlocks blanks what GitLab shows as a quote or as front
// matter though CommonMark reads it as ordinary paragraphs: a multi-line
// quote between two ">>>" lines, and a front matter block that opens the
// comment (between two "---", "+++" or ";;;" lines). Quoting someone's
// command must not run it. On GitHub, which has neither, a command
// written there is at worst not run.
func hideGitLabBlocks(body string) string {
	if !strings.Contains(body, ">>>") && !strings.HasPrefix(body, "---") && !strings.HasPrefix(body, "+++") && !strings.HasPrefix(body, ";;;") {
		return body
	}
	lines := strings.Split(body, "\n")
	fence := func(l string) string { return strings.TrimRight(l, " \t\r") }
	hide := func(from, to int) {
		for i := from; i <= to; i++ {
			lines[i] = ""
		}
	}
	if d := fence(lines[0]); d == "---" || d == "+++" || d == ";;;" {
		for j := 1; j < len(lines); j++ {
			if fence(lines[j]) == d {
				hide(0, j)
				break
			}
		}
	}
	open := -1
	for i, l := range lines {
		switch {
		case fence(l) != ">>>":
		case open < 0:
			open = i
		default:
			hide(open, i)
			open = -1
		}
	}
	return strings.Join(lines, "\n")
}

// visibility follows the HTML the forge passes through, which can hide
// what CommonMark parses as ordinary paragraphs: an HTML block of the
// `<details>` kind ends at the first blank line, but the element it opens
// runs on until its closing tag, and so does an open comment. What shows
// inside `<pre>` is code, not a command. Tags are counted in any node at
// any depth, even where a browser would close them with an enclosing quote
// or list: that errs toward ignoring a command.
type visibility struct {
	inComment    bool
	details, pre int // open elements
}

func (v *visibility) hidden() bool {
	return v.inComment || v.details > 0 || v.pre > 0
}

// follow scans the raw HTML in n and its descendants, in document order.
func (v *visibility) follow(n ast.Node, src []byte) {
	_ = ast.Walk(n, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			v.scan(rawHTML(n, src))
		}
		return ast.WalkContinue, nil
	})
}

// rawHTML returns the HTML a node passes through unescaped, or nil. Code
// spans and code blocks are escaped, so they hide nothing.
func rawHTML(n ast.Node, src []byte) []byte {
	switch n := n.(type) {
	case *ast.HTMLBlock:
		html := join(n.Lines(), src)
		if n.HasClosure() {
			html = append(html, n.ClosureLine.Value(src)...)
		}
		return html
	case *ast.RawHTML:
		return join(n.Segments, src)
	}
	return nil
}

func join(segs *text.Segments, src []byte) []byte {
	var b []byte
	for i := range segs.Len() {
		seg := segs.At(i)
		b = append(b, seg.Value(src)...)
	}
	return b
}

// scan moves past comments and counts the hiding elements opened and
// closed in html.
func (v *visibility) scan(html []byte) {
	for len(html) > 0 {
		if v.inComment {
			end := bytes.Index(html, []byte("-->"))
			if end < 0 {
				return
			}
			v.inComment = false
			html = html[end+len("-->"):]
			continue
		}
		start := bytes.IndexByte(html, '<')
		if start < 0 {
			return
		}
		html = html[start+1:]
		if bytes.HasPrefix(html, []byte("!--")) {
			v.inComment = true
			// Searching from the first dash closes "<!-->" and "<!--->"
			// at once, as HTML does.
			html = html[1:]
			continue
		}
		v.tag(html)
	}
}

// tag counts the tag that starts html (just past its '<') if it opens or
// closes a hiding element. A closing tag with nothing open is ignored, as
// a browser ignores it.
func (v *visibility) tag(html []byte) {
	closing := bytes.HasPrefix(html, []byte("/"))
	if closing {
		html = html[1:]
	}
	n := 0
	for n < len(html) && isASCIILetter(html[n]) {
		n++
	}
	if n < len(html) && !strings.ContainsRune(" \t\n\r\f/>", rune(html[n])) {
		return // a longer name, such as <prefix>
	}
	var open *int
	switch name := html[:n]; {
	case bytes.EqualFold(name, []byte("details")):
		open = &v.details
	case bytes.EqualFold(name, []byte("pre")):
		open = &v.pre
	default:
		return
	}
	if closing {
		*open = max(*open-1, 0)
	} else {
		*open++
	}
}

func isASCIILetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
