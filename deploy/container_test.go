package deploy

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/config"
)

// No container engine runs where these tests do: they check the
// Dockerfile and compose.yaml for what an engine would get wrong late
// (a root user, a missing git, a stage that builds what the context
// lacks) and build the binary from exactly the context the engine would
// send.

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
	line int
}

func parseDockerfile(t *testing.T, data []byte) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile ends inside a continued instruction from line %d", start)
	}
	return out
}

// stages splits the instructions at each FROM.
func stages(ins []instruction) [][]instruction {
	var out [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], in)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, read(t, "Dockerfile"))
	st := stages(ins)
	if len(st) != 2 {
		t.Fatalf("%d stages, want 2: a build stage and a small runtime one", len(st))
	}
	build, runtime := st[0], st[1]

	// The build stage's Go must be able to build the module.
	from := strings.Fields(build[0].args)
	if len(from) != 3 || !strings.EqualFold(from[1], "AS") {
		t.Fatalf("line %d: the build stage is %q, want `FROM image AS name`", build[0].line, build[0].args)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(read(t, "go.mod"))
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	if want := "golang:" + string(goVersion[1]) + "-"; !strings.HasPrefix(from[0], want) {
		t.Errorf("build stage from %s, want %s… to match go.mod's go %s", from[0], want, goVersion[1])
	}
	var built bool
	for _, in := range build {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			built = true
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/trainyard",
				"internal/buildinfo.version=", "internal/buildinfo.commit=", "internal/buildinfo.date="} {
				if !strings.Contains(in.args, want) {
					t.Errorf("line %d: go build lacks %s", in.line, want)
				}
			}
		}
	}
	if !built {
		t.Error("the build stage runs no go build")
	}

	// The runtime stage: git installed, the binary copied from the build
	// stage, a numeric non-root user, the packaged config, serve by default.
	if strings.Contains(runtime[0].args, "golang") {
		t.Errorf("line %d: the runtime stage is based on %s, which carries the Go toolchain", runtime[0].line, runtime[0].args)
	}
	find := func(cmd string) []instruction {
		var out []instruction
		for _, in := range runtime {
			if in.cmd == cmd {
				out = append(out, in)
			}
		}
		return out
	}
	var installsGit bool
	for _, in := range find("RUN") {
		if regexp.MustCompile(`apt-get install\b.*\bgit\b`).MatchString(in.args) {
			installsGit = true
			if !strings.Contains(in.args, "ca-certificates") {
				t.Errorf("line %d: git is installed without ca-certificates, so HTTPS fetches fail", in.line)
			}
		}
	}
	if !installsGit {
		t.Error("the runtime stage does not install git, which every merge runs")
	}
	copied := map[string]string{}
	for _, in := range find("COPY") {
		f := strings.Fields(in.args)
		copied[f[len(f)-1]] = strings.Join(f[:len(f)-1], " ")
	}
	if got := copied[binPath]; got != "--from="+from[2]+" /out/trainyard" {
		t.Errorf("COPY to %s is %q, want it from the %s stage's /out/trainyard", binPath, got, from[2])
	}
	if got := copied[configPath]; got != "packaging/trainyard.yaml" {
		t.Errorf("COPY to %s is %q, want packaging/trainyard.yaml", configPath, got)
	}
	users := find("USER")
	if len(users) != 1 || !regexp.MustCompile(`^[1-9][0-9]*(:[1-9][0-9]*)?$`).MatchString(users[0].args) {
		t.Errorf("USER %v, want one numeric non-root uid so that runAsNonRoot can check it", users)
	}
	if users := find("USER"); len(users) == 1 && !strings.HasPrefix(users[0].args, "10001") {
		t.Errorf("USER %s, but the Helm chart runs as 10001", users[0].args)
	}
	env := map[string]string{}
	for _, in := range find("ENV") {
		k, v, _ := strings.Cut(in.args, "=")
		env[k] = v
	}
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	if unknown := config.UnknownEnv(environ); len(unknown) > 0 {
		t.Errorf("ENV sets variables trainyard does not read: %q", unknown)
	}
	if got := env["TRAINYARD_LISTEN"]; got != "0.0.0.0:8080" {
		t.Errorf("TRAINYARD_LISTEN=%q, want 0.0.0.0:8080: the packaged config's loopback is unreachable from outside a container", got)
	}
	if got := find("EXPOSE"); len(got) != 1 || got[0].args != "8080" {
		t.Errorf("EXPOSE %v, want 8080", got)
	}
	if got := find("ENTRYPOINT"); len(got) != 1 || got[0].args != `["trainyard"]` {
		t.Errorf("ENTRYPOINT %v, want [\"trainyard\"]", got)
	}
	if got := find("CMD"); len(got) != 1 || got[0].args != `["serve", "--config", "`+configPath+`"]` {
		t.Errorf("CMD %v, want serve with %s", got, configPath)
	}
	if got := find("WORKDIR"); len(got) != 1 || got[0].args != stateDir {
		t.Errorf("WORKDIR %v, want %s, the packaged data_dir", got, stateDir)
	}
}

// dockerignore matches paths against .dockerignore's patterns, for the
// forms the file uses: a pattern matches a path or any directory above
// it, and a leading **/ matches at any depth.
type dockerignore []string

func parseDockerignore(t *testing.T, data []byte) dockerignore {
	t.Helper()
	var d dockerignore
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") || strings.Contains(strings.TrimPrefix(line, "**/"), "**") {
			t.Fatalf(".dockerignore pattern %q: this test does not understand it; teach it", line)
		}
		d = append(d, strings.TrimPrefix(line, "/"))
	}
	return d
}

func (d dockerignore) excludes(rel string) bool {
	parts := strings.Split(rel, "/")
	for _, p := range d {
		anyDepth := strings.HasPrefix(p, "**/")
		p = strings.TrimPrefix(p, "**/")
		for i := range parts {
			for j := i + 1; j <= len(parts); j++ {
				if !anyDepth && i > 0 {
					break
				}
				if ok, _ := path.Match(p, strings.Join(parts[i:j], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}

func TestDockerignoreMatcher(t *testing.T) {
	d := dockerignore{".git", "docs", "**/*_test.go", "*.test"}
	for rel, want := range map[string]bool{
		".git/HEAD":                    true,
		"docs/api.md":                  true,
		"internal/docs/x.go":           false,
		"internal/web/web_test.go":     true,
		"internal/web/web.go":          false,
		"engine.test":                  true,
		"internal/engine/engine.test":  false,
		"cmd/trainyard/main.go":        false,
		"internal/web/templates/a.tpl": false,
	} {
		if got := d.excludes(rel); got != want {
			t.Errorf("excludes(%s) = %v, want %v", rel, got, want)
		}
	}
}

// The image is built from the context .dockerignore leaves: build the
// binary from a copy of exactly that, as the Dockerfile's build stage does.
func TestDockerBuildContextBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds trainyard")
	}
	ignore := parseDockerignore(t, read(t, ".dockerignore"))
	files := run(t, nil, lookPath(t, "git"), "ls-files", "--cached", "--others", "--exclude-standard")
	ctx := t.TempDir()
	var kept []string
	for rel := range strings.Lines(string(files)) {
		rel = strings.TrimSpace(rel)
		if rel == "" || ignore.excludes(rel) {
			continue
		}
		src := abs(t, rel)
		info, err := os.Lstat(src)
		if err != nil {
			continue // deleted in the work tree
		}
		if !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(ctx, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, rel)
	}
	for _, need := range []string{"go.mod", "go.sum", "packaging/trainyard.yaml", "cmd/trainyard/main.go"} {
		if !slices.Contains(kept, need) {
			t.Errorf("the build context lacks %s, which the Dockerfile needs", need)
		}
	}
	for _, rel := range kept {
		for _, bulk := range []string{".git/", "tools/", "docs/", "bin/"} {
			if strings.HasPrefix(rel, bulk) {
				t.Errorf("the build context carries %s", rel)
			}
		}
	}
	// Without the Dockerfile's -trimpath and CGO_ENABLED=0, which change
	// nothing about which files the build needs: the dependencies then
	// come compiled from the build cache the rest of the suite filled.
	cmd := exec.Command(lookPath(t, "go"), "build", "-o", filepath.Join(t.TempDir(), "trainyard"), "./cmd/trainyard")
	cmd.Dir = ctx
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		var tree []string
		_ = filepath.WalkDir(ctx, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(ctx, p)
				tree = append(tree, rel)
			}
			return nil
		})
		t.Fatalf("go build in the Docker build context: %v\n%s\ncontext holds %d files", err, out, len(tree))
	}
}

func TestComposeFile(t *testing.T) {
	docs, err := yamlDocs(read(t, "deploy/compose.yaml"))
	if err != nil || len(docs) != 1 {
		t.Fatalf("deploy/compose.yaml: %v (%d documents)", err, len(docs))
	}
	c := docs[0]
	services := digMap(t, c, "services")
	if len(services) != 2 {
		t.Errorf("services %v, want trainyard and redis", services)
	}
	redisImage := digString(t, c, "services", "redis", "image")
	if !strings.HasPrefix(redisImage, "redis:") {
		t.Errorf("redis image %s", redisImage)
	}
	if got := digString(t, c, "services", "trainyard", "depends_on", "redis", "condition"); got != "service_healthy" {
		t.Errorf("trainyard waits for redis to be %s, want service_healthy", got)
	}
	if _, ok := dig(c, "services", "redis", "healthcheck", "test"); !ok {
		t.Error("redis has no healthcheck, so service_healthy never holds")
	}
	if got := digString(t, c, "services", "trainyard", "build", "dockerfile"); got != "Dockerfile" {
		t.Errorf("build.dockerfile %s", got)
	}
	if ctx := digString(t, c, "services", "trainyard", "build", "context"); filepath.Clean(filepath.Join(abs(t, "deploy"), ctx)) != root(t) {
		t.Errorf("build.context %s is not the repository root", ctx)
	}

	env := digMap(t, c, "services", "trainyard", "environment")
	var environ []string
	for k, v := range env {
		s, _ := v.(string)
		environ = append(environ, k+"="+s)
	}
	if unknown := config.UnknownEnv(environ); len(unknown) > 0 {
		t.Errorf("environment sets variables trainyard does not read: %q", unknown)
	}
	if got := env["TRAINYARD_REDIS_URL"]; got != "redis://redis:6379/0" {
		t.Errorf("TRAINYARD_REDIS_URL %v, want the redis service", got)
	}
	listen, _ := env["TRAINYARD_LISTEN"].(string)
	_, port, _ := strings.Cut(listen, ":")
	ports := digList(t, c, "services", "trainyard", "ports")
	if len(ports) != 1 || !strings.HasSuffix(ports[0].(string), ":"+port) {
		t.Errorf("ports %v do not publish the listen port %s", ports, port)
	}
	// The environment must give the packaged config what it needs.
	envMap := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.Contains(v, "${") {
			envMap[k] = v
		}
	}
	cfg := loadShipped(t, envMap)
	if cfg.Listen != listen {
		t.Errorf("with compose's environment listen is %s, want %s", cfg.Listen, listen)
	}
	var dataMounted bool
	for _, v := range digList(t, c, "services", "trainyard", "volumes") {
		if s, _ := v.(string); strings.HasSuffix(s, ":"+cfg.DataDir) {
			dataMounted = true
		}
	}
	if !dataMounted {
		t.Errorf("no volume at data_dir %s: git mirrors would be fetched anew on every start", cfg.DataDir)
	}
	for _, name := range []string{"redis-data", "trainyard-data"} {
		if _, ok := dig(c, "volumes", name); !ok {
			t.Errorf("volume %s is used but not declared", name)
		}
	}
}
