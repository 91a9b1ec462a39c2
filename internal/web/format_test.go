package web

import (
	"testing"
	"time"
)

func TestCodeSpans(t *testing.T) {
	for in, want := range map[string]string{
		"Removed from the merge train for `main`: it conflicts.": "Removed from the merge train for <code>main</code>: it conflicts.",
		"paths `a<b>.go` and `c&d`":                              "paths <code>a&lt;b&gt;.go</code> and <code>c&amp;d</code>",
		"<script>alert(1)</script>":                              "&lt;script&gt;alert(1)&lt;/script&gt;",
		"an odd ` backtick <i>":                                  "an odd ` backtick &lt;i&gt;",
		"":                                                       "",
	} {
		if got := string(codeSpans(in)); got != want {
			t.Errorf("codeSpans(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatETA(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-3 * time.Minute:              "any moment (overdue)",
		0:                             "any moment (overdue)",
		400 * time.Millisecond:        "any moment (overdue)",
		42 * time.Second:              "about 42s",
		6*time.Minute + 5*time.Second: "about 6m5s",
		2 * time.Hour:                 "about 2h0m",
	} {
		if got := formatETA(d); got != want {
			t.Errorf("formatETA(%v) = %q, want %q", d, got, want)
		}
	}
}
