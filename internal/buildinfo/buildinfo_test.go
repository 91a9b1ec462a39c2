package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/trainyard/trainyard", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	installed := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}}
	tests := []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  Info
		line                  string
	}{
		{
			name: "release stamps win", version: "v1.2.3", commit: "abc", date: "2026-11-30T00:00:00Z", bi: vcs,
			want: Info{Version: "v1.2.3", Commit: "abc", Date: "2026-11-30T00:00:00Z", GoVersion: "go1.26.8", Modified: true},
			line: "trainyard v1.2.3 (commit abc, modified, built 2026-11-30T00:00:00Z, go1.26.8)",
		},
		{
			name: "checkout build", bi: vcs,
			want: Info{Version: "dev", Commit: "0123456789abcdef0123", Date: "2026-12-01T10:00:00Z", GoVersion: "go1.26.8", Modified: true},
			line: "trainyard dev (commit 0123456789ab, modified, built 2026-12-01T10:00:00Z, go1.26.8)",
		},
		{
			name: "go install at a version", bi: installed,
			want: Info{Version: "v1.4.0", Commit: "unknown", Date: "unknown", GoVersion: "go1.26.8"},
			line: "trainyard v1.4.0 (commit unknown, built unknown, go1.26.8)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve(tt.version, tt.commit, tt.date, tt.bi)
			if got != tt.want {
				t.Fatalf("resolve = %+v, want %+v", got, tt.want)
			}
			if got.String() != tt.line {
				t.Fatalf("String = %q, want %q", got.String(), tt.line)
			}
		})
	}
}

func TestGetHasAGoVersion(t *testing.T) {
	if got := Get(); got.GoVersion == "" || got.Version == "" {
		t.Fatalf("Get() = %+v: version and Go version must be set", got)
	}
}
