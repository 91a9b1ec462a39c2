package train

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

func TestTextRendersReferencesAtTheEdge(t *testing.T) {
	txt := Join("Merged with abc, tested by ", PipelineRef(7), "; ", Join(PipelineRef(9), " failed"), ".")
	if got := txt.String(); got != "Merged with abc, tested by pipeline #7; pipeline #9 failed." {
		t.Fatalf("String = %q", got)
	}
	got := txt.Render(func(id int64) string { return fmt.Sprintf("[checks %d](u/%d)", id, id) })
	if got != "Merged with abc, tested by [checks 7](u/7); [checks 9](u/9) failed." {
		t.Fatalf("Render = %q", got)
	}
	if p := txt.Pipelines(); !slices.Equal(p, []int64{7, 9}) {
		t.Fatalf("Pipelines = %v", p)
	}
	if len(Join("a", "b", "")) != 1 {
		t.Fatalf("adjacent words are one span: %#v", Join("a", "b", ""))
	}
}

func TestTextReadsOldRecordsAndRoundTrips(t *testing.T) {
	var old Reason
	if err := json.Unmarshal([]byte(`{"code":"removed","message":"it was removed from the train"}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.Message.String() != "it was removed from the train" || old.Why().String() != "it was removed from the train" {
		t.Fatalf("old record = %+v", old)
	}
	r := Reason{Code: ReasonTimeout, Detail: msgTimeout(5, 0), Message: msgEvicted("main", msgTimeout(5, 0))}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Reason
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Message.String() != r.Message.String() || !slices.Equal(back.Message.Pipelines(), []int64{5}) {
		t.Fatalf("round trip: %s -> %+v", data, back)
	}
}

// A merged note names the pipeline that passed as such, through JSON
// too, so the forge that names it need not read it.
func TestTextKeepsWhichPipelinePassed(t *testing.T) {
	data, err := json.Marshal(Join(msgMerged("main", "abc", 7), " Then ", PipelineRef(9), " ran."))
	if err != nil {
		t.Fatal(err)
	}
	var back Text
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	got := back.RenderRefs(func(s Span) string { return fmt.Sprintf("<%d passed=%v>", s.Pipeline, s.Passed) })
	if want := "Merged into `main` with abc, tested by <7 passed=true>. Then <9 passed=false> ran."; got != want {
		t.Fatalf("RenderRefs after a round trip through %s = %q, want %q", data, got, want)
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdefghij", 8, "abcde…"},
		{"ééééé", 8, "éé…"}, // never half a character
		{"abc", 2, "…"},
	} {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
