package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Flags are the command-line flags of trainyard serve: --config, and the
// settings most often changed per run. A flag overrides the file and the
// environment only when the user set it.
type Flags struct {
	config string
	values []*flagValue
}

// BindFlags registers the flags on fs. The flagged settings are marked in
// the settings table; each flag is named after its YAML path (--data-dir).
func BindFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{}
	fs.StringVar(&f.config, "config", "", "configuration file (default: $"+ConfigEnv+", else the first of "+strings.Join(SearchPaths(), ", ")+" that exists)")
	for _, s := range configSettings() {
		if !s.flag {
			continue
		}
		v := &flagValue{setting: s}
		fs.Var(v, s.flagName(), fmt.Sprintf("%s Overrides %s and %s.", s.doc, s.path, s.env()))
		f.values = append(f.values, v)
	}
	return f
}

// Locate returns the configuration file to read: the one --config names,
// else the one TRAINYARD_CONFIG names (Load fails if a named file is
// missing), else the first of SearchPaths that exists. With none of them,
// it returns a *NoConfigError: a service that runs no projects is a
// mistake to report, not to start. f and env may be nil.
func (f *Flags) Locate(env Env) (string, error) {
	if f != nil && f.config != "" {
		return f.config, nil
	}
	if env != nil {
		if path, ok := env(ConfigEnv); ok && path != "" {
			return path, nil
		}
	}
	for _, path := range SearchPaths() {
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	return "", &NoConfigError{Searched: SearchPaths()}
}

// NoConfigError says that no configuration file was named or found.
type NoConfigError struct {
	Searched []string
}

func (e *NoConfigError) Error() string {
	return "no configuration file: pass --config FILE, set " + ConfigEnv + ", or create one of " +
		strings.Join(e.Searched, ", ") + " (configs/trainyard.example.yaml shows every setting)"
}

func (f *Flags) apply(l *loader) {
	if f == nil {
		return
	}
	for _, v := range f.values {
		if !v.changed {
			continue
		}
		if err := v.setting.set(&l.c, value{text: v.text}); err != nil {
			l.fail(v.setting.path, &FieldError{Field: "--" + v.setting.flagName(), Err: err})
			continue
		}
		l.given[v.setting.path] = true
	}
}

// flagValue holds a flag's text until Load applies it; Set checks the text
// at once so pflag can report a bad flag with its usage.
type flagValue struct {
	setting setting[Config]
	text    string
	changed bool
}

func (v *flagValue) Set(s string) error {
	var scratch Config
	if err := v.setting.set(&scratch, value{text: s}); err != nil {
		return err
	}
	v.text, v.changed = s, true
	return nil
}

// String is empty before Set, so help shows no default: the effective
// default may come from the file or the environment.
func (v *flagValue) String() string { return v.text }

func (v *flagValue) Type() string { return v.setting.kind }
