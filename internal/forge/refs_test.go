package forge

import "testing"

func TestPipelineRefs(t *testing.T) {
	name := func(id int64) string {
		if id == 7 {
			return "the checks on abc"
		}
		return ""
	}
	got := PipelineRefs("pipeline #7 failed, and so did pipeline #8, which tested it", name)
	if want := "the checks on abc failed, and so did pipeline #8, which tested it"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := PipelineRefs("pipeline #99999999999999999999 failed", name); got != "pipeline #99999999999999999999 failed" {
		t.Errorf("an id out of range changed: %q", got)
	}
}
