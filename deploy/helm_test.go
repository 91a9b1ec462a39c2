package deploy

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/config"
)

const chart = "deploy/helm/trainyard"

// helmEnv keeps Helm's cache, config and data out of the user's home.
func helmEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	return []string{
		"HELM_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"HELM_DATA_HOME=" + filepath.Join(dir, "data"),
	}
}

// render runs helm template and indexes the objects by kind.
func render(t *testing.T, args ...string) map[string]map[string]any {
	t.Helper()
	out := tool(t, helmEnv(t), "helm", append([]string{"template", "ty", chart}, args...)...)
	docs, err := yamlDocs(out)
	if err != nil {
		t.Fatalf("helm template output: %v\n%s", err, out)
	}
	objs := map[string]map[string]any{}
	for _, d := range docs {
		kind, _ := d["kind"].(string)
		if _, dup := objs[kind]; dup {
			t.Fatalf("two objects of kind %s", kind)
		}
		objs[kind] = d
	}
	return objs
}

func kinds(objs map[string]map[string]any) []string {
	var out []string
	for k := range objs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestHelmChart(t *testing.T) {
	needTools(t)
	t.Run("lint", func(t *testing.T) {
		for _, values := range [][]string{nil, {"-f", "deploy/testdata/helm-values-full.yaml"}} {
			out := tool(t, helmEnv(t), "helm", append([]string{"lint", "--strict", chart}, values...)...)
			if !strings.Contains(string(out), "0 chart(s) failed") {
				t.Errorf("helm lint %v:\n%s", values, out)
			}
		}
	})

	t.Run("defaults", func(t *testing.T) {
		objs := render(t)
		if got, want := kinds(objs), []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount"}; !slices.Equal(got, want) {
			t.Errorf("objects %v, want %v", got, want)
		}
		dep := objs["Deployment"]
		if got := mustDig(t, dep, "spec", "replicas"); got != 2 {
			t.Errorf("replicas %v, want 2", got)
		}
		pod := digMap(t, dep, "spec", "template", "spec")
		c := digMap(t, pod, "containers", 0)
		if got := digString(t, c, "livenessProbe", "httpGet", "path"); got != "/healthz" {
			t.Errorf("liveness probe on %s", got)
		}
		if got := digString(t, c, "readinessProbe", "httpGet", "path"); got != "/readyz" {
			t.Errorf("readiness probe on %s", got)
		}
		if got := mustDig(t, pod, "securityContext", "runAsNonRoot"); got != true {
			t.Errorf("runAsNonRoot %v", got)
		}
		if got := mustDig(t, c, "securityContext", "readOnlyRootFilesystem"); got != true {
			t.Errorf("readOnlyRootFilesystem %v", got)
		}

		// Every secret the pod reads is one trainyard knows, from the
		// release's Secret, and optional: an empty Secret starts.
		var environ []string
		for _, e := range digList(t, c, "env") {
			name := digString(t, e, "name")
			environ = append(environ, name+"=x")
			if got := digString(t, e, "valueFrom", "secretKeyRef", "name"); got != "ty-trainyard" {
				t.Errorf("%s from Secret %s, want ty-trainyard", name, got)
			}
			if got := mustDig(t, e, "valueFrom", "secretKeyRef", "optional"); got != true {
				t.Errorf("%s is not optional", name)
			}
		}
		if len(environ) != 7 {
			t.Errorf("env %q, want the 7 secrets", environ)
		}
		if unknown := config.UnknownEnv(environ); len(unknown) > 0 {
			t.Errorf("the pod sets variables trainyard does not read: %q", unknown)
		}
		if got := objs["Secret"]["data"]; got != nil && len(got.(map[string]any)) != 0 {
			t.Errorf("Secret data %v with no secrets given", got)
		}

		// The ConfigMap's trainyard.yaml loads and matches the pod.
		cfg := loadConfigMap(t, objs["ConfigMap"], nil)
		if cfg.Listen != "0.0.0.0:8080" {
			t.Errorf("listen %s, want 0.0.0.0:8080", cfg.Listen)
		}
		if got := mustDig(t, c, "ports", 0, "containerPort"); got != 8080 {
			t.Errorf("containerPort %v", got)
		}
		var dataMount bool
		for _, m := range digList(t, c, "volumeMounts") {
			if digString(t, m, "mountPath") == cfg.DataDir {
				dataMount = true
			}
		}
		if !dataMount {
			t.Errorf("no volume mounted at data_dir %s", cfg.DataDir)
		}
		if got := digString(t, objs["Service"], "spec", "ports", 0, "targetPort"); got != "http" {
			t.Errorf("Service targets %s", got)
		}
		if got := mustDig(t, objs["PodDisruptionBudget"], "spec", "maxUnavailable"); got != 1 {
			t.Errorf("PodDisruptionBudget maxUnavailable %v", got)
		}
	})

	t.Run("secrets and port", func(t *testing.T) {
		objs := render(t, "--set", "secrets.gitlabToken=glpat-123", "--set", "secrets.apiToken=api-456", "--set", "containerPort=9000")
		data := digMap(t, objs["Secret"], "data")
		got := map[string]string{}
		for k, v := range data {
			dec, err := base64.StdEncoding.DecodeString(v.(string))
			if err != nil {
				t.Fatalf("Secret %s: %v", k, err)
			}
			got[k] = string(dec)
		}
		if len(got) != 2 || got["gitlab-token"] != "glpat-123" || got["api-token"] != "api-456" {
			t.Errorf("Secret data %v", got)
		}
		cfg := loadConfigMap(t, objs["ConfigMap"], nil)
		if cfg.Listen != "0.0.0.0:9000" {
			t.Errorf("listen %s, want the containerPort", cfg.Listen)
		}
		if got := mustDig(t, objs["Deployment"], "spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"); got != 9000 {
			t.Errorf("containerPort %v", got)
		}
		// A changed secret must roll the pods.
		before := digString(t, render(t)["Deployment"], "spec", "template", "metadata", "annotations", "checksum/secret")
		if after := digString(t, objs["Deployment"], "spec", "template", "metadata", "annotations", "checksum/secret"); after == before {
			t.Error("the pods' checksum/secret does not change with the secrets")
		}
	})

	t.Run("full", func(t *testing.T) {
		objs := render(t, "-f", "deploy/testdata/helm-values-full.yaml")
		if got, want := kinds(objs), []string{"ConfigMap", "Deployment", "Ingress", "Service", "ServiceAccount", "ServiceMonitor"}; !slices.Equal(got, want) {
			t.Errorf("objects %v, want %v (no Secret with existingSecret, no PodDisruptionBudget with one replica)", got, want)
		}
		c := digMap(t, objs["Deployment"], "spec", "template", "spec", "containers", 0)
		env := map[string]string{}
		for _, e := range digList(t, c, "env") {
			name := digString(t, e, "name")
			if ref, ok := dig(e, "valueFrom", "secretKeyRef", "name"); ok {
				if ref != "trainyard-tokens" {
					t.Errorf("%s from Secret %v, want the existing trainyard-tokens", name, ref)
				}
				// The values' project is on GitLab: give its secrets, as
				// the existing Secret would.
				if strings.Contains(name, "GITLAB") {
					env[name] = "a-secret-value-long-enough"
				}
			} else {
				env[name] = digString(t, e, "value")
			}
		}
		if env["TRAINYARD_LOG_LEVEL"] != "debug" {
			t.Errorf("extraEnv not passed: %v", env)
		}
		cfg := loadConfigMap(t, objs["ConfigMap"], env)
		if len(cfg.Projects) != 1 || cfg.Projects[0].Path != "group/app" {
			t.Errorf("projects %+v, want group/app", cfg.Projects)
		}
		if got := digString(t, objs["ServiceMonitor"], "spec", "endpoints", 0, "path"); got != "/metrics" {
			t.Errorf("ServiceMonitor scrapes %s", got)
		}
		if got := digString(t, objs["ServiceMonitor"], "metadata", "labels", "release"); got != "prometheus" {
			t.Errorf("ServiceMonitor label release=%s", got)
		}
		if got := digString(t, objs["Ingress"], "spec", "rules", 0, "host"); got != "trainyard.example.com" {
			t.Errorf("Ingress host %s", got)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--set", "replicaCount=two"}, "replicaCount"},
			{[]string{"--set", "image.pullPolicy=Sometimes"}, "pullPolicy"},
			{[]string{"--set", "replicas=3"}, "replicas"},
			{[]string{"--set", "config.listen=:9"}, "set containerPort instead"},
		} {
			out, err := toolErr(t, helmEnv(t), "helm", append([]string{"template", "ty", chart}, c.args...)...)
			if err == nil {
				t.Errorf("helm template %v rendered:\n%s", c.args, out)
			} else if !strings.Contains(err.Error(), c.want) {
				t.Errorf("helm template %v: the error does not name %q:\n%v", c.args, c.want, err)
			}
		}
	})
}

// loadConfigMap loads the trainyard.yaml of a rendered ConfigMap.
func loadConfigMap(t *testing.T, cm map[string]any, env map[string]string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trainyard.yaml")
	if err := os.WriteFile(p, []byte(digString(t, cm, "data", "trainyard.yaml")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, envFunc(env), nil)
	if err != nil {
		t.Fatalf("the ConfigMap's trainyard.yaml does not load: %v", err)
	}
	return cfg
}

// The install notes name Redis by its host alone: a redis:// URL may hold
// a password, and the notes are printed and kept with the release.
func TestHelmNotesHideTheRedisPassword(t *testing.T) {
	out := string(tool(t, helmEnv(t), "helm", "install", "demo", chart, "--dry-run=client",
		"--set", "config.redis.url=redis://:s3cret@redis.example:6379/0"))
	i := strings.Index(out, "NOTES:")
	if i < 0 {
		t.Fatalf("no notes in the dry run:\n%s", out)
	}
	if notes := out[i:]; strings.Contains(notes, "s3cret") || !strings.Contains(notes, "reach Redis at redis.example:6379.") {
		t.Fatalf("the notes show the Redis URL's password, or not its host:\n%s", notes)
	}
}
