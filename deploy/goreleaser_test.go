package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// releaseCheckEnv runs the full `goreleaser check` too. Building the
// GoReleaser binary costs over ten CPU-minutes from a cold build cache,
// more than the rest of the suite can spare on two cores; its own loader,
// which the check starts with, costs a fraction and runs always.
const releaseCheckEnv = "TRAINYARD_RELEASE_CHECK"

func TestGoReleaserConfigLoads(t *testing.T) {
	needTools(t)
	goBin := lookPath(t, "go")
	run(t, nil, goBin, "-C", "tools", "run", "./releasecheck", abs(t, ".goreleaser.yaml"))

	// The loader is strict: a misspelt key fails, naming it and its line.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	data := strings.Replace(string(read(t, ".goreleaser.yaml")), "\nchecksum:\n", "\nchecksums:\n", 1)
	if err := os.WriteFile(bad, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runErr(t, nil, goBin, "-C", "tools", "run", "./releasecheck", bad)
	if err == nil || !strings.Contains(err.Error(), "field checksums not found") {
		t.Errorf("a misspelt key passed or was not named: %v", err)
	}
}

func TestGoReleaserCheck(t *testing.T) {
	if os.Getenv(releaseCheckEnv) != "1" {
		t.Skipf("%s=1 (or make release-check) runs goreleaser check; TestGoReleaserConfigLoads runs its loader", releaseCheckEnv)
	}
	tool(t, nil, "goreleaser", "check", "--config", ".goreleaser.yaml")
}

// The release must build what docs/install.md promises and package the
// Debian files exactly as `make deb` does.
func TestGoReleaserConfig(t *testing.T) {
	docs, err := yamlDocs(read(t, ".goreleaser.yaml"))
	if err != nil || len(docs) != 1 {
		t.Fatalf(".goreleaser.yaml: %v (%d documents)", err, len(docs))
	}
	g := docs[0]
	build := digMap(t, g, "builds", 0)
	for key, want := range map[string][]string{
		"goos":   {"linux", "darwin"},
		"goarch": {"amd64", "arm64"},
	} {
		var got []string
		for _, v := range digList(t, build, key) {
			got = append(got, fmt.Sprint(v))
		}
		if !sameSet(got, want) {
			t.Errorf("builds %s %v, want %v", key, got, want)
		}
	}
	if got := digString(t, build, "main"); got != "./cmd/trainyard" {
		t.Errorf("builds main %s", got)
	}
	var ldflags []string
	for _, v := range digList(t, build, "ldflags") {
		ldflags = append(ldflags, v.(string))
	}
	for _, v := range []string{"version", "commit", "date"} {
		want := "internal/buildinfo." + v + "="
		if !slices.ContainsFunc(ldflags, func(f string) bool { return strings.Contains(f, want) }) {
			t.Errorf("ldflags %q do not set %s", ldflags, want)
		}
	}
	if got := digString(t, g, "checksum", "algorithm"); got != "sha256" {
		t.Errorf("checksum algorithm %s", got)
	}
	var files []string
	for _, v := range digList(t, g, "archives", 0, "files") {
		files = append(files, v.(string))
	}
	for _, f := range files {
		read(t, f) // each must exist
	}
	if !slices.Contains(files, "LICENSE") {
		t.Errorf("archives carry %q, not the LICENSE", files)
	}

	nf, err := yamlDocs(read(t, "packaging/nfpm.yaml"))
	if err != nil || len(nf) != 1 {
		t.Fatalf("packaging/nfpm.yaml: %v", err)
	}
	pkg := nf[0]
	rel := digMap(t, g, "nfpms", 0)
	// nfpm.yaml lists the binary itself; GoReleaser adds it from bindir.
	var contents []any
	for _, c := range digList(t, pkg, "contents") {
		if digString(t, c, "dst") != binPath {
			contents = append(contents, c)
		}
	}
	if got, want := fmt.Sprint(digList(t, rel, "contents")), fmt.Sprint(contents); got != want {
		t.Errorf("the release's Debian files differ from packaging/nfpm.yaml:\nrelease: %s\nnfpm:    %s", got, want)
	}
	if got := digString(t, rel, "bindir") + "/trainyard"; got != binPath {
		t.Errorf("the release installs the binary at %s, want %s", got, binPath)
	}
	for _, pair := range [][2]string{
		{"depends", "dependencies"}, {"recommends", "recommends"}, {"scripts", "scripts"},
		{"description", "description"}, {"maintainer", "maintainer"}, {"license", "license"},
		{"section", "section"}, {"homepage", "homepage"},
	} {
		a, b := fmt.Sprint(mustDig(t, pkg, pair[0])), fmt.Sprint(mustDig(t, rel, pair[1]))
		if a != b {
			t.Errorf("nfpm %s %s, but the release's %s %s", pair[0], a, pair[1], b)
		}
	}
}
