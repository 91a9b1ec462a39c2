package github

import "testing"

func TestPipelineRefNamesTheCommitsChecks(t *testing.T) {
	sha := "1764773aa0db5d1b2c3e4f5a6b7c8d9e0f1a2b3c"
	for attempt, want := range map[int]string{1: "the checks on 1764773aa0db", 3: "the checks on 1764773aa0db (attempt 3)"} {
		id, err := pipelineID(sha, attempt)
		if err != nil {
			t.Fatal(err)
		}
		if got := PipelineRef(id); got != want {
			t.Errorf("attempt %d: %q, want %q", attempt, got, want)
		}
	}
	if got := PipelineRef(0); got != "" {
		t.Errorf("id 0: %q, want none", got)
	}
}
