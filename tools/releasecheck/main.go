// Command releasecheck validates GoReleaser configuration files with
// GoReleaser's own loader, which decodes strictly: an unknown or misplaced
// key, a wrong type or a configuration version other than 2 fails it.
//
// It stands in for `goreleaser check` in the test suite: building the
// whole GoReleaser binary takes over ten minutes of CPU from a cold build
// cache, its loader a small fraction of that. `make release-check` runs the
// full check, which also applies GoReleaser's defaults and reports
// deprecated keys.
package main

import (
	"fmt"
	"os"

	"github.com/goreleaser/goreleaser/v2/pkg/config"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: releasecheck FILE...")
		os.Exit(2)
	}
	failed := false
	for _, file := range os.Args[1:] {
		if err := check(file); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			failed = true
			continue
		}
		fmt.Printf("%s: valid\n", file)
	}
	if failed {
		os.Exit(1)
	}
}

func check(file string) error {
	p, err := config.Load(file)
	if err != nil {
		return err
	}
	if p.Version != 2 {
		return fmt.Errorf("version %d: GoReleaser v2 reads version 2 only", p.Version)
	}
	if len(p.Builds) == 0 {
		return fmt.Errorf("no builds")
	}
	return nil
}
