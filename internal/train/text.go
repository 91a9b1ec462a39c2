package train

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Text is a sentence for people in which a pipeline is a reference, not
// words: each forge writes and links a pipeline its own way ("pipeline
// #7" on GitLab, "the checks on 1a2b3c4d5e6f" on GitHub), so the planner
// leaves that to the edge that shows the text.
type Text []Span

// Span is a run of words, or a reference to a pipeline when Pipeline is
// set (Words is then empty). Passed says the pipeline passed when the
// text was written, so an edge that names it need not ask the forge.
type Span struct {
	Words    string `json:"text,omitempty"`
	Pipeline int64  `json:"pipeline,omitempty"`
	Passed   bool   `json:"passed,omitempty"`
}

// Words is text without references.
func Words(s string) Text {
	if s == "" {
		return nil
	}
	return Text{{Words: s}}
}

// Join builds a text from parts: strings are words, a Text is taken as it
// is, and a PipelineRef is a reference.
func Join(parts ...any) Text {
	var t Text
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			t = t.add(Span{Words: p})
		case Text:
			for _, s := range p {
				t = t.add(s)
			}
		case PipelineRef:
			t = append(t, Span{Pipeline: int64(p)})
		case PassedRef:
			t = append(t, Span{Pipeline: int64(p), Passed: true})
		default:
			panic("train.Join: unsupported part") // a programming error
		}
	}
	return t
}

// PipelineRef marks a pipeline id as a reference in Join.
type PipelineRef int64

// PassedRef marks the id of a pipeline that passed as a reference in Join.
type PassedRef int64

// add appends s, merging adjacent words so equal texts compare equal.
func (t Text) add(s Span) Text {
	if s.Pipeline == 0 && s.Words == "" {
		return t
	}
	if n := len(t); s.Pipeline == 0 && n > 0 && t[n-1].Pipeline == 0 {
		out := append(Text(nil), t...)
		out[n-1].Words += s.Words
		return out
	}
	return append(t, s)
}

// Render writes t with pipeline(id) in place of each reference.
func (t Text) Render(pipeline func(id int64) string) string {
	return t.RenderRefs(func(s Span) string { return pipeline(s.Pipeline) })
}

// RenderRefs writes t with ref(span) in place of each reference.
func (t Text) RenderRefs(ref func(Span) string) string {
	var b strings.Builder
	for _, s := range t {
		if s.Pipeline != 0 {
			b.WriteString(ref(s))
			continue
		}
		b.WriteString(s.Words)
	}
	return b.String()
}

// String writes each reference as "pipeline #<id>", the planner's own
// name for it, for logs and tests.
func (t Text) String() string { return t.Render(PipelineNumber) }

// PipelineNumber names a pipeline by its id: "pipeline #7".
func PipelineNumber(id int64) string { return "pipeline #" + strconv.FormatInt(id, 10) }

// Pipelines lists the pipelines t refers to, in order.
func (t Text) Pipelines() []int64 {
	var out []int64
	for _, s := range t {
		if s.Pipeline != 0 {
			out = append(out, s.Pipeline)
		}
	}
	return out
}

// UnmarshalJSON reads a text, or a plain string as records written before
// texts held references carry.
func (t *Text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = Words(s)
		return nil
	}
	var spans []Span
	if err := json.Unmarshal(b, &spans); err != nil {
		return err
	}
	*t = spans
	return nil
}
