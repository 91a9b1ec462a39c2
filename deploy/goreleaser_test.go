package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGoReleaserCheck runs `goreleaser check` on the release's
// configuration: GoReleaser's strict loader, its defaults and its
// deprecation checks. make test compiles the tool first (make
// packaging-tools), so that its build is not charged to this test.
func TestGoReleaserCheck(t *testing.T) {
	tool(t, nil, "goreleaser", "check", "--config", ".goreleaser.yaml")

	// The check is strict: a misspelt key fails, naming it and its line.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	data := string(read(t, ".goreleaser.yaml"))
	line := 1 + strings.Count(data[:strings.Index(data, "\nchecksum:\n")+1], "\n")
	data = strings.Replace(data, "\nchecksum:\n", "\nchecksums:\n", 1)
	if err := os.WriteFile(bad, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := toolErr(t, nil, "goreleaser", "check", "--config", bad)
	want := fmt.Sprintf("line %d: field checksums not found", line)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a misspelt key passed or was not named (want %q): %v", want, err)
	}
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
