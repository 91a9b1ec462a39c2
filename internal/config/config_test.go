package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

func helperConfig(t *testing.T) *Config {
	t.Helper()
	return mustParse(t, joinLines(
		"train: {max_parallel: 8, retries: 2, method: rebase, min_access: reporter}",
		"projects:",
		"  - {forge: gitlab, path: Group/App, branches: [main, 'release/*']}",
		"  - {forge: gitlab, path: group/other, max_parallel: 3, pipeline_timeout: 10m, min_access: owner, batch_size: 2, min_window: 3, eager_eviction: true}",
		"  - {forge: github, path: group/app, branches: [], retries: 0, method: squash}",
	), forgeEnv())
}

func TestProjectLookup(t *testing.T) {
	c := helperConfig(t)
	p, ok := c.Project(ForgeGitLab, "group/app")
	if !ok || p.Path != "Group/App" {
		t.Errorf("Project(gitlab, group/app) = %+v, %v; want Group/App, matched without case", p, ok)
	}
	if _, ok := c.Project(ForgeGitLab, "group/missing"); ok {
		t.Error("Project found an unconfigured project")
	}
	if p, ok := c.Project(ForgeGitHub, "group/app"); !ok || p.Forge != ForgeGitHub {
		t.Errorf("Project(github, group/app) = %+v, %v", p, ok)
	}
	if !c.Enabled(ForgeGitLab) || !c.Enabled(ForgeGitHub) || c.Enabled("gitea") {
		t.Error("Enabled: want gitlab and github, not gitea")
	}
	if d := Defaults(); d.Enabled(ForgeGitLab) {
		t.Error("defaults enable gitlab")
	}
}

func TestSettings(t *testing.T) {
	c := helperConfig(t)
	tests := []struct {
		forge, path string
		want        train.Settings
		access      forge.AccessLevel
	}{
		{ForgeGitLab, "group/app", train.Settings{MaxParallel: 8, BatchSize: 8, Retries: 2, PipelineTimeout: 2 * time.Hour, Method: train.MethodRebase}, forge.Reporter},
		{ForgeGitLab, "GROUP/OTHER", train.Settings{MaxParallel: 3, BatchSize: 2, MinWindow: 3, EagerEviction: true, Retries: 2, PipelineTimeout: 10 * time.Minute, Method: train.MethodRebase}, forge.Owner},
		{ForgeGitHub, "group/app", train.Settings{MaxParallel: 8, BatchSize: 8, Retries: 0, PipelineTimeout: 2 * time.Hour, Method: train.MethodSquash}, forge.Reporter},
		{ForgeGitHub, "not/configured", train.Settings{MaxParallel: 8, BatchSize: 8, Retries: 2, PipelineTimeout: 2 * time.Hour, Method: train.MethodRebase}, forge.Reporter},
	}
	for _, tt := range tests {
		if got := c.Settings(tt.forge, tt.path); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Settings(%s, %s) = %+v, want %+v", tt.forge, tt.path, got, tt.want)
		}
		if got := c.MinAccess(tt.forge, tt.path); got != tt.access {
			t.Errorf("MinAccess(%s, %s) = %v, want %v", tt.forge, tt.path, got, tt.access)
		}
	}
}

func TestBranchAllowed(t *testing.T) {
	c := helperConfig(t)
	tests := []struct {
		forge, path, branch string
		want                bool
	}{
		{ForgeGitLab, "group/app", "main", true},
		{ForgeGitLab, "group/app", "release/2.0", true},
		{ForgeGitLab, "group/app", "release/2.0/hotfix", false},
		{ForgeGitLab, "group/app", "develop", false},
		{ForgeGitLab, "group/other", "anything", true}, // no branches: any
		{ForgeGitHub, "group/app", "anything", true},   // empty list: any
		{ForgeGitLab, "not/configured", "main", false},
		{"gitea", "group/app", "main", false},
	}
	for _, tt := range tests {
		if got := c.BranchAllowed(tt.forge, tt.path, tt.branch); got != tt.want {
			t.Errorf("BranchAllowed(%s, %s, %s) = %v, want %v", tt.forge, tt.path, tt.branch, got, tt.want)
		}
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"5242880", 5 << 20}, {"5MiB", 5 << 20}, {"512 kib", 512 << 10}, {"2MB", 2e6}, {"1GiB", 1 << 30},
		{"3KB", 3000}, {"7B", 7}, {"0", 0},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MiB", "1.5MiB", "5XB", "9223372036854775807GiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
	for n, want := range map[int64]string{5 << 20: "5MiB", 1 << 30: "1GiB", 1536: "1536", 2048: "2KiB", 0: "0", 7: "7"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNotifyWants(t *testing.T) {
	all := NotifyRoute{}
	narrow := NotifyRoute{Forge: ForgeGitLab, Project: "Group/App", Branches: []string{"release/*"}, Events: []string{EventEvicted}}
	tests := []struct {
		route                      NotifyRoute
		forge, path, branch, event string
		want                       bool
	}{
		{all, ForgeGitHub, "o/r", "main", EventMerged, true},
		{narrow, ForgeGitLab, "group/app", "release/2", EventEvicted, true},
		{narrow, ForgeGitHub, "group/app", "release/2", EventEvicted, false},
		{narrow, ForgeGitLab, "group/other", "release/2", EventEvicted, false},
		{narrow, ForgeGitLab, "group/app", "main", EventEvicted, false},
		{narrow, ForgeGitLab, "group/app", "release/2", EventMerged, false},
	}
	for _, tt := range tests {
		if got := tt.route.Wants(tt.forge, tt.path, tt.branch, tt.event); got != tt.want {
			t.Errorf("%+v.Wants(%s, %s, %s, %s) = %v, want %v", tt.route, tt.forge, tt.path, tt.branch, tt.event, got, tt.want)
		}
	}
}

func TestGitHubApp(t *testing.T) {
	keyFile := writeFile(t, "app.pem", testKeyPEM+"\n")
	secretFile := writeFile(t, "hook", "service-hook-secret\n")
	c := mustParse(t, joinLines(
		"github: {app_id: 123, installation_id: 456, private_key_file: "+keyFile+", required_checks: [ci/test], fast_forward: push}",
		"projects:",
		"  - {forge: github, path: Acme/Service, required_checks: [build, test], workflows: [ci.yml], fast_forward: api, min_access: maintain, branch_checks: false,",
		"     webhook_secret_file: "+secretFile+"}",
		"  - {forge: github, path: acme/lib, required_checks: []}",
		"  - {forge: gitlab, path: group/app}",
	), map[string]string{"TRAINYARD_GITHUB_WEBHOOK_SECRET": "forge-hook-secret-1", "TRAINYARD_GITLAB_URL": "https://g",
		"TRAINYARD_GITLAB_TOKEN": "t", "TRAINYARD_GITLAB_WEBHOOK_SECRET": "gitlab-hook-secret"})
	if !c.GitHub.App() || c.GitHub.AppID != 123 || c.GitHub.InstallationID != 456 || c.GitHub.PrivateKey.Reveal() != testKeyPEM {
		t.Fatalf("github = %+v", c.GitHub)
	}
	for path, want := range map[string]RepoDefaults{
		"acme/service": {RequiredChecks: []string{"build", "test"}, Workflows: []string{"ci.yml"}, FastForward: FastForwardAPI},
		"acme/lib":     {RequiredChecks: []string{}, FastForward: FastForwardPush, BranchChecks: true},
		"acme/other":   {RequiredChecks: []string{"ci/test"}, FastForward: FastForwardPush, BranchChecks: true},
	} {
		if got := c.Repo(path); !reflect.DeepEqual(got, want) {
			t.Errorf("Repo(%s) = %#v, want %#v", path, got, want)
		}
	}
	if l := c.MinAccess(ForgeGitHub, "acme/service"); l != forge.Maintainer {
		t.Errorf("min_access maintain = %v", l)
	}
	def, own := c.WebhookSecrets(ForgeGitHub)
	if def != "forge-hook-secret-1" || !reflect.DeepEqual(own, map[string]string{"Acme/Service": "service-hook-secret"}) {
		t.Errorf("github webhook secrets = %q, %v", def, own)
	}
	if def, own := c.WebhookSecrets(ForgeGitLab); def != "gitlab-hook-secret" || len(own) != 0 {
		t.Errorf("gitlab webhook secrets = %q, %v", def, own)
	}
}
