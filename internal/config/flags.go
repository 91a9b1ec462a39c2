package config

import (
	"fmt"

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
	fs.StringVar(&f.config, "config", DefaultPath, "configuration file; only the default may be missing")
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

// ConfigPath is the file named by --config, or DefaultPath.
func (f *Flags) ConfigPath() string {
	if f == nil || f.config == "" {
		return DefaultPath
	}
	return f.config
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
