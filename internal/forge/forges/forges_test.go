package forges

import (
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/webhook"
)

func TestOpenBuildsTheEnabledForges(t *testing.T) {
	cfg, err := config.Parse([]byte(`
gitlab:
  url: https://gitlab.example.com/api/v4
  token: glpat-0123456789abcdef
  webhook_secret: 0123456789abcdef0123
projects:
  - {forge: gitlab, path: group/app}
`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	all, err := Open(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Profile.Name != "gitlab" || all[0].Client == nil || all[0].Git.Token == "" {
		t.Fatalf("forges = %+v, want GitLab alone", all)
	}
	if got := all[0].Profile.Links.MR("group/app", 3); got != "https://gitlab.example.com/group/app/-/merge_requests/3" {
		t.Errorf("MR link %q", got)
	}
	if got := all[0].Git.CloneURL("group/app"); got != "https://gitlab.example.com/group/app.git" {
		t.Errorf("clone URL %q", got)
	}
	var w webhook.Options
	Webhooks(cfg, &w)
	if w.GitLabSecret != "0123456789abcdef0123" || w.DisableGitLab || !w.DisableGitHub {
		t.Errorf("webhooks: secret %q, GitLab off %v, GitHub off %v", w.GitLabSecret, w.DisableGitLab, w.DisableGitHub)
	}
}

func TestProfileOf(t *testing.T) {
	for name, label := range map[string]string{"gitlab": "!4", "github": "#4"} {
		p, err := ProfileOf(name, "")
		if err != nil || p.Name != name || p.Label(4) != label {
			t.Errorf("ProfileOf(%s) = %+v, %v", name, p, err)
		}
	}
	if _, err := ProfileOf("gitea", ""); err == nil || !strings.Contains(err.Error(), "gitea") {
		t.Errorf("ProfileOf(gitea) = %v", err)
	}
}
