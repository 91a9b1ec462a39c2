package github

import (
	"testing"

	"github.com/trainyard/trainyard/internal/forge"
)

func TestProfileNamesAndLinks(t *testing.T) {
	sha := "1764773aa0db5d1b2c3e4f5a6b7c8d9e0f1a2b3c"
	first, err := pipelineID(sha, 1)
	if err != nil {
		t.Fatal(err)
	}
	third, err := pipelineID(sha, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{"https://api.github.com", "https://github.com/"} {
		p := Profile(base)
		if p.Name != Name || !p.PipelinesBySHA {
			t.Fatalf("%s: profile %+v", base, p)
		}
		for got, want := range map[string]string{
			p.Label(12):                        "#12",
			p.Names.HeadRef(12):                "refs/pull/12/head",
			p.Names.Role(forge.Developer):      "write",
			p.PipelineLabel(first):             "the checks on 1764773aa0db",
			p.PipelineLabel(third):             "the checks on 1764773aa0db (attempt 3)",
			p.PipelineLabel(1 << attemptBits):  "pipeline #1024",
			p.Links.MR("o/r", 12):              "https://github.com/o/r/pull/12",
			p.Links.Pipeline("o/r", first):     "https://github.com/o/r/commit/1764773aa0db5/checks",
			p.Links.Commit("o/r", sha):         "https://github.com/o/r/commit/" + sha,
			p.Links.Branch("o/r", "release/1"): "https://github.com/o/r/tree/release%2F1",
		} {
			if got != want {
				t.Errorf("%s: %q, want %q", base, got, want)
			}
		}
	}
	if got := Profile("https://ghe.example.com/api/v3").Links.MR("o/r", 1); got != "https://ghe.example.com/o/r/pull/1" {
		t.Errorf("enterprise MR link = %q", got)
	}
}
