package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/config"
)

// The paths the Debian package installs and every recipe agrees on.
const (
	configPath = "/etc/trainyard/trainyard.yaml"
	defaultEnv = "/etc/default/trainyard"
	unitPath   = "/usr/lib/systemd/system/trainyard.service"
	binPath    = "/usr/bin/trainyard"
	stateDir   = "/var/lib/trainyard"
)

// loadShipped loads the packaged config as trainyard serve does, with env
// as its environment.
func loadShipped(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	cfg, err := config.Load(abs(t, "packaging/trainyard.yaml"), envFunc(env), nil)
	if err != nil {
		t.Fatalf("packaging/trainyard.yaml does not load: %v", err)
	}
	return cfg
}

func TestShippedConfigLoads(t *testing.T) {
	cfg := loadShipped(t, nil)
	if cfg.DataDir != stateDir {
		t.Errorf("data_dir = %q, want %q, the unit's StateDirectory", cfg.DataDir, stateDir)
	}
	if cfg.Listen != "127.0.0.1:8080" {
		t.Errorf("listen = %q, want loopback 127.0.0.1:8080", cfg.Listen)
	}
	if got := string(cfg.Redis.URL); got != "redis://127.0.0.1:6379/0" {
		t.Errorf("redis.url = %q, want the local redis-server", got)
	}
	if len(cfg.Projects) != 0 {
		t.Errorf("projects = %v, want none until the operator adds them", cfg.Projects)
	}
}

// The secrets /etc/default/trainyard lists must be variables trainyard
// reads, or setting them would do nothing.
func TestDefaultFileNamesKnownVariables(t *testing.T) {
	var environ []string
	for line := range strings.Lines(string(read(t, "packaging/trainyard.default"))) {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		if name, _, ok := strings.Cut(line, "="); ok && strings.HasPrefix(name, config.EnvPrefix) && !strings.Contains(name, " ") {
			environ = append(environ, line)
		}
	}
	if len(environ) < 9 {
		t.Fatalf("found %d TRAINYARD_ variables, want the 9 listed: %q", len(environ), environ)
	}
	if unknown := config.UnknownEnv(environ); len(unknown) > 0 {
		t.Errorf("variables trainyard does not read: %q", unknown)
	}
}

func TestSystemdUnitDirectives(t *testing.T) {
	u, err := parseUnit(read(t, "packaging/trainyard.service"))
	if err != nil {
		t.Fatalf("packaging/trainyard.service: %v", err)
	}
	want := map[string]map[string][]string{
		"Unit": {
			"After": {"network-online.target redis-server.service"},
			"Wants": {"network-online.target redis-server.service"},
		},
		"Service": {
			"ExecStart":       {binPath + " serve --config " + configPath},
			"EnvironmentFile": {"-" + defaultEnv},
			"DynamicUser":     {"yes"},
			"StateDirectory":  {"trainyard"},
			"ProtectSystem":   {"strict"},
			"ProtectHome":     {"yes"},
			"NoNewPrivileges": {"yes"},
			"PrivateTmp":      {"yes"},
			"Restart":         {"on-failure"},
			"RestartSec":      {"5s"},
		},
		"Install": {
			"WantedBy": {"multi-user.target"},
		},
	}
	for section, keys := range want {
		for key, values := range keys {
			if got := u[section][key]; !slices.Equal(got, values) {
				t.Errorf("[%s] %s = %q, want %q", section, key, got, values)
			}
		}
	}
	// StateDirectory= is relative to /var/lib, and data_dir must be it:
	// with ProtectSystem=strict nothing else is writable.
	if got := filepath.Join("/var/lib", u["Service"]["StateDirectory"][0]); got != loadShipped(t, nil).DataDir {
		t.Errorf("StateDirectory is %s, but data_dir is %s", got, loadShipped(t, nil).DataDir)
	}
}

// The maintainer scripts must be valid sh: dpkg runs them with /bin/sh.
func TestMaintainerScriptsParse(t *testing.T) {
	sh := lookPath(t, "sh")
	for _, s := range []string{"postinstall", "preremove", "postremove"} {
		rel := "packaging/scripts/" + s + ".sh"
		run(t, nil, sh, "-n", rel)
		info, err := os.Stat(abs(t, rel))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if info.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", rel, info.Mode())
		}
	}
}
