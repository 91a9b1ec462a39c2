// Package buildinfo says which build of Trainyard is running: the release
// version, the commit and the build date that the release build stamps in
// with link flags, completed from what the Go toolchain records in the
// binary when a plain `go build` or `go install` made it.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Stamped by release builds:
//
//	-ldflags "-X github.com/trainyard/trainyard/internal/buildinfo.version=v1.2.3
//	          -X github.com/trainyard/trainyard/internal/buildinfo.commit=abc123
//	          -X github.com/trainyard/trainyard/internal/buildinfo.date=2026-12-01T00:00:00Z"
//
// They are strings set by the linker, never written at run time.
var (
	version string
	commit  string
	date    string
)

// Info is one build's identity.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	// Modified is true for a build from a work tree with uncommitted changes.
	Modified bool `json:"modified,omitempty"`
}

// Get returns the running binary's build info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, commit, date, bi)
}

// resolve prefers the link-time stamps and falls back to the toolchain's
// records: the module version for `go install module@version`, and the VCS
// stamps for a build inside a git checkout.
func resolve(version, commit, date string, bi *debug.BuildInfo) Info {
	info := Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.Date == "" {
					info.Date = s.Value
				}
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.Date == "" {
		info.Date = "unknown"
	}
	return info
}

// ShortCommit is the commit cut to the 12 characters people read.
func (i Info) ShortCommit() string {
	if len(i.Commit) > 12 && !strings.Contains(i.Commit, " ") {
		return i.Commit[:12]
	}
	return i.Commit
}

// String is the one line `trainyard --version` prints.
func (i Info) String() string {
	s := "trainyard " + i.Version + " (commit " + i.ShortCommit()
	if i.Modified {
		s += ", modified"
	}
	return s + ", built " + i.Date + ", " + i.GoVersion + ")"
}
