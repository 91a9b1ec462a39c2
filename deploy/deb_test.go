package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/config"
)

// The build identity stamped into the packaged binary, as a release
// build's link flags stamp it.
const (
	stampVersion = "v9.8.7"
	stampCommit  = "0123456789abcdef0123456789abcdef01234567"
	stampDate    = "2026-12-01T00:00:00Z"
	debVersion   = "9.8.7"
)

// buildBinary builds trainyard for linux with the identity a release
// stamps, into dir. Not with the release's -trimpath and CGO_ENABLED=0:
// they change nothing the package's tests look at, and would compile every
// dependency again.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "trainyard")
	pkg := "github.com/trainyard/trainyard/internal/buildinfo"
	ldflags := strings.Join([]string{
		"-X " + pkg + ".version=" + stampVersion,
		"-X " + pkg + ".commit=" + stampCommit,
		"-X " + pkg + ".date=" + stampDate,
	}, " ")
	run(t, []string{"GOOS=linux"}, lookPath(t, "go"),
		"build", "-ldflags", ldflags, "-o", bin, "./cmd/trainyard")
	return bin
}

// buildDeb builds the Debian package with nfpm and returns its path.
func buildDeb(t *testing.T) string {
	t.Helper()
	needTools(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	tool(t, []string{"VERSION=" + debVersion, "GOARCH=" + runtime.GOARCH, "TRAINYARD_BIN=" + bin},
		"nfpm", "package", "--packager", "deb", "--config", "packaging/nfpm.yaml", "--target", out+"/")
	deb := filepath.Join(out, "trainyard_"+debVersion+"_"+runtime.GOARCH+".deb")
	if _, err := os.Stat(deb); err != nil {
		entries, _ := os.ReadDir(out)
		t.Fatalf("nfpm made no %s: %v (made %v)", filepath.Base(deb), err, entries)
	}
	return deb
}

func TestDebianPackage(t *testing.T) {
	deb := buildDeb(t)
	dpkgDeb := lookPath(t, "dpkg-deb")

	t.Run("control", func(t *testing.T) {
		want := map[string]string{
			"Package":      "trainyard",
			"Version":      debVersion,
			"Architecture": runtime.GOARCH,
			"Depends":      "git",
			"Recommends":   "redis-server",
			"Homepage":     "https://github.com/trainyard/trainyard",
			"Section":      "devel",
		}
		for field, value := range want {
			got := strings.TrimSpace(string(run(t, nil, dpkgDeb, "--field", deb, field)))
			if got != value {
				t.Errorf("%s: %q, want %q", field, got, value)
			}
		}
		if got := strings.TrimSpace(string(run(t, nil, dpkgDeb, "--field", deb, "Maintainer"))); !strings.Contains(got, "<") {
			t.Errorf("Maintainer %q has no address", got)
		}
	})

	t.Run("contents", func(t *testing.T) {
		// dpkg-deb -c prints tar's listing: mode, owner, size, date, time, path.
		got := map[string]string{}
		for line := range strings.Lines(string(run(t, nil, dpkgDeb, "--contents", deb))) {
			f := strings.Fields(line)
			if len(f) < 6 || strings.HasPrefix(f[0], "d") {
				continue
			}
			got[strings.TrimPrefix(f[5], ".")] = f[0] + " " + f[1]
		}
		want := map[string]string{
			binPath:    "-rwxr-xr-x root/root",
			unitPath:   "-rw-r--r-- root/root",
			configPath: "-rw-r--r-- root/root",
			// Secrets: root alone reads them, before systemd drops to
			// the service's user.
			defaultEnv: "-rw------- root/root",
			"/usr/share/doc/trainyard/trainyard.example.yaml": "-rw-r--r-- root/root",
			"/usr/share/doc/trainyard/copyright":              "-rw-r--r-- root/root",
		}
		for p, mode := range want {
			if got[p] != mode {
				t.Errorf("%s: %q, want %q", p, got[p], mode)
			}
		}
		for p := range got {
			if _, ok := want[p]; !ok {
				t.Errorf("unexpected file %s", p)
			}
		}
	})

	t.Run("control files", func(t *testing.T) {
		dir := t.TempDir()
		run(t, nil, dpkgDeb, "--control", deb, dir)
		conffiles, err := os.ReadFile(filepath.Join(dir, "conffiles"))
		if err != nil {
			t.Fatalf("no conffiles: %v", err)
		}
		if got, want := strings.Fields(string(conffiles)), []string{defaultEnv, configPath}; !sameSet(got, want) {
			t.Errorf("conffiles %q, want %q", got, want)
		}
		for name, src := range map[string]string{
			"postinst": "packaging/scripts/postinstall.sh",
			"prerm":    "packaging/scripts/preremove.sh",
			"postrm":   "packaging/scripts/postremove.sh",
		} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Errorf("no %s: %v", name, err)
				continue
			}
			if !bytes.Equal(data, read(t, src)) {
				t.Errorf("%s differs from %s", name, src)
			}
		}
	})

	rootDir := t.TempDir()
	run(t, nil, dpkgDeb, "--extract", deb, rootDir)

	t.Run("files", func(t *testing.T) {
		for dst, src := range map[string]string{
			unitPath:   "packaging/trainyard.service",
			configPath: "packaging/trainyard.yaml",
			defaultEnv: "packaging/trainyard.default",
		} {
			data, err := os.ReadFile(filepath.Join(rootDir, dst))
			if err != nil {
				t.Errorf("%s: %v", dst, err)
			} else if !bytes.Equal(data, read(t, src)) {
				t.Errorf("%s differs from %s", dst, src)
			}
		}
		if _, err := config.Load(filepath.Join(rootDir, configPath), nil, nil); err != nil {
			t.Errorf("the packaged %s does not load: %v", configPath, err)
		}
	})

	t.Run("version", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skipf("the packaged binary is for linux, not %s", runtime.GOOS)
		}
		out := run(t, nil, filepath.Join(rootDir, binPath), "version", "-o", "json")
		var got struct{ Version, Commit, Date string }
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("version -o json: %v\n%s", err, out)
		}
		if got.Version != stampVersion || got.Commit != stampCommit || got.Date != stampDate {
			t.Errorf("version -o json = %+v, want version %s, commit %s, date %s", got, stampVersion, stampCommit, stampDate)
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze not installed; TestSystemdUnitDirectives checks the unit's directives")
		}
		// verify --root=rootDir cannot work: the package's root has none of
		// the units every service depends on (sysinit.target, basic.target),
		// and verify fails on loading them. So the host's units are used,
		// with a copy of the unit whose ExecStart names the extracted
		// binary, which verify checks is executable.
		unit, err := os.ReadFile(filepath.Join(rootDir, unitPath))
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(rootDir, binPath)
		moved := bytes.Replace(unit, []byte("ExecStart="+binPath+" "), []byte("ExecStart="+bin+" "), 1)
		if bytes.Equal(moved, unit) {
			t.Fatalf("the unit has no ExecStart=%s", binPath)
		}
		copyPath := filepath.Join(t.TempDir(), "trainyard.service")
		if err := os.WriteFile(copyPath, moved, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(analyze, "verify", "--man=no", copyPath)
		out, err := cmd.CombinedOutput()
		// verify exits 0 on unknown keys and bad values, which it only
		// reports: any output is a problem.
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// A package's version sorts as the builds do: a pre-release before its
// release, a build past a tag after it, and an untagged build (its
// version a commit hash, which may start with a digit) before every
// release.
func TestDebVersionSortsAsTheReleases(t *testing.T) {
	script := abs(t, "scripts/deb-version.sh")
	untagged := []struct{ describe, deb string }{
		{"1234abc", "0.0.0~git1234abc"},
		{"9f3c2e1-dirty", "0.0.0~git9f3c2e1~dirty"},
		{"abc1234", "0.0.0~gitabc1234"},
	}
	tagged := []struct{ describe, deb string }{ // in the order they sort
		{"v0.1.0-rc1", "0.1.0~rc1"},
		{"v0.1.0-rc1-2-gdeadbee", "0.1.0~rc1+git2.deadbee"},
		{"v0.1.0", "0.1.0"},
		{"v0.1.0-3-gabc1234-dirty", "0.1.0+git3.abc1234~dirty"},
		{"v0.1.0-3-gabc1234", "0.1.0+git3.abc1234"},
		{"v0.1.0-12-g1234567", "0.1.0+git12.1234567"},
		{"v0.2.0", "0.2.0"},
	}
	for _, b := range append(untagged, tagged...) {
		if got := strings.TrimSpace(string(run(t, nil, script, b.describe))); got != b.deb {
			t.Errorf("deb-version.sh %s = %q, want %q", b.describe, got, b.deb)
		}
	}
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skipf("no dpkg to compare versions with: %v", err)
	}
	lt := func(a, b string) {
		if _, err := runErr(t, nil, dpkg, "--compare-versions", a, "lt", b); err != nil {
			t.Errorf("%s does not sort before %s: %v", a, b, err)
		}
	}
	for _, u := range untagged {
		lt(u.deb, tagged[0].deb)
	}
	for i := 1; i < len(tagged); i++ {
		lt(tagged[i-1].deb, tagged[i].deb)
	}
}
