// Package prometheus_test checks the Prometheus alert rules shipped in
// deploy/prometheus and the Grafana dashboard in deploy/grafana: promtool
// checks the rules and runs their unit tests, and every query of both
// must use metrics and labels the service exports.
package prometheus_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/trainyard/trainyard/deploy"
)

func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv(deploy.SkipEnv) == "1" {
			t.Skipf("promtool not found and %s=1", deploy.SkipEnv)
		}
		t.Fatalf("promtool not found: run scripts/ensure-promtool.sh (or set %s=1 to skip this test)", deploy.SkipEnv)
	}
	return path
}

func TestPromtoolChecksTheRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", "alerts.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolRunsTheRuleTests(t *testing.T) {
	out, err := exec.Command(promtool(t), "test", "rules", "alerts_test.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func alertRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("parse alerts.yaml: %v", err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("alerts.yaml has no rules")
	}
	return out
}

var heading = regexp.MustCompile(`(?m)^#+ (.+)$`)

// anchors are the GitHub anchors of the headings of a Markdown file.
func anchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(data), -1) {
		slug := strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
				return r
			case r == ' ':
				return '-'
			}
			return -1
		}, strings.ToLower(strings.TrimSpace(m[1])))
		out[slug] = true
	}
	return out
}

// Every alert says what is wrong (summary), what it means (description)
// and where its runbook is, a section of docs/operations.md; and has a
// severity.
func TestEveryAlertHasItsAnnotationsAndRunbook(t *testing.T) {
	sections := anchors(t, "../../docs/operations.md")
	for _, r := range alertRules(t) {
		if r.Alert == "" {
			t.Errorf("a rule without an alert name: %q", r.Expr)
			continue
		}
		for _, key := range []string{"summary", "description", "runbook"} {
			if strings.TrimSpace(r.Annotations[key]) == "" {
				t.Errorf("%s has no %s", r.Alert, key)
			}
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s has severity %q, want critical or warning", r.Alert, s)
		}
		want := "docs/operations.md#" + strings.ToLower(r.Alert)
		if got := r.Annotations["runbook"]; got != want {
			t.Errorf("%s: runbook %q, want %q", r.Alert, got, want)
		}
		if !sections[strings.ToLower(r.Alert)] {
			t.Errorf("docs/operations.md has no section %s", r.Alert)
		}
	}
}

type ruleTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// Every alert has a test where it fires and one where it does not.
func TestEveryAlertIsTestedBothWays(t *testing.T) {
	data, err := os.ReadFile("alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f ruleTests
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("parse alerts_test.yaml: %v", err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, test := range f.Tests {
		for _, c := range test.AlertRuleTest {
			if len(c.ExpAlerts) > 0 {
				fires[c.Alertname] = true
			} else {
				quiet[c.Alertname] = true
			}
		}
	}
	for _, r := range alertRules(t) {
		if !fires[r.Alert] {
			t.Errorf("no test of %s expects it to fire", r.Alert)
		}
		if !quiet[r.Alert] {
			t.Errorf("no test of %s expects it not to fire", r.Alert)
		}
	}
}
