package gitlab

import (
	"testing"

	"github.com/trainyard/trainyard/internal/forge"
)

// The configuration accepts the instance's web address or its API URL;
// links must point at pages either way.
func TestProfileLinksWithOrWithoutAPIPath(t *testing.T) {
	for _, base := range []string{"https://gitlab.example.com", "https://gitlab.example.com/", "https://gitlab.example.com/api/v4", "https://gitlab.example.com/api/v4/"} {
		p := Profile(base)
		for got, want := range map[string]string{
			p.Label(7):                                 "!7",
			p.Names.HeadRef(7):                         "refs/merge-requests/7/head",
			p.Names.Role(forge.Developer):              "developer",
			p.PipelineLabel(42):                        "pipeline #42",
			p.Links.MR("group/app", 7):                 "https://gitlab.example.com/group/app/-/merge_requests/7",
			p.Links.Pipeline("group/app", 42):          "https://gitlab.example.com/group/app/-/pipelines/42",
			p.Links.Commit("group/app", "abc"):         "https://gitlab.example.com/group/app/-/commit/abc",
			p.Links.Branch("group/app", "release/1.0"): "https://gitlab.example.com/group/app/-/tree/release%2F1.0",
		} {
			if got != want {
				t.Errorf("%s: %q, want %q", base, got, want)
			}
		}
	}
	if l := Profile("not a url").Link().MR("g/a", 1); l != "" {
		t.Errorf("a base that is no URL links to %q", l)
	}
}
