package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The settings tables are the one declaration of what can be configured:
// every field of the configuration types is set by exactly one setting,
// and every setting sets exactly one field. A field added to a struct
// without a setting fails here, before it can go unread or undocumented.
func TestTablesCoverEveryField(t *testing.T) {
	coverage(t, configSettings(), "Projects", "Notify", "API.Tokens") // their entries have tables of their own
	coverage(t, projectSettings(), "schedule")                        // freezes and merge_windows parsed, at validation
	coverage(t, notifySettings())
	coverage(t, tokenSettings())
}

// coverage checks a table against the fields of T; unset names the
// fields no setting sets (list sections, values derived from settings).
func coverage[T any](t *testing.T, table []setting[T], unset ...string) {
	t.Helper()
	fields := map[string][]int{}
	leafFields(reflect.TypeFor[T](), nil, "", fields)
	setBy := map[string][]string{}
	for _, s := range table {
		var x T
		text, _ := sample(t, s.kind)
		if err := s.set(&x, value{text: text}); err != nil {
			t.Fatalf("set %s to %q: %v", s.path, text, err)
		}
		var changed []string
		for name, index := range fields {
			if !reflect.ValueOf(x).FieldByIndex(index).IsZero() {
				changed = append(changed, name)
				setBy[name] = append(setBy[name], s.path)
			}
		}
		if len(changed) != 1 {
			t.Errorf("setting %s sets the fields %q of %T, want exactly one", s.path, changed, x)
		}
	}
	for name := range fields {
		if got := setBy[name]; len(got) != 1 && !slices.Contains(unset, name) {
			t.Errorf("%s.%s is set by the settings %q, want exactly one", reflect.TypeFor[T]().Name(), name, got)
		}
	}
}

// leafFields adds the fields of typ that each hold one setting, by name
// ("GitHub.Forge.URL"), with their index. A Secret is one setting; other
// structs are walked.
func leafFields(typ reflect.Type, index []int, prefix string, out map[string][]int) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		at := append(slices.Clone(index), i)
		name := prefix + f.Name
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[Secret]() {
			leafFields(f.Type, at, name+".", out)
			continue
		}
		out[name] = at
	}
}

// Every secret can be given in a file too: its table has path_file beside it.
func TestEverySecretHasAFile(t *testing.T) {
	hasFile(t, configSettings())
	hasFile(t, projectSettings())
	hasFile(t, notifySettings())
}

func hasFile[T any](t *testing.T, table []setting[T]) {
	t.Helper()
	var x T
	refs := secretsOf(&x, table, "")
	for _, s := range table {
		if s.kind == secretKind().name && !slices.ContainsFunc(refs, func(r secretRef) bool { return r.path == s.path }) {
			t.Errorf("secret %s has no setting %s_file", s.path, s.path)
		}
		if strings.HasSuffix(s.path, "_file") && !slices.ContainsFunc(refs, func(r secretRef) bool { return r.path+"_file" == s.path }) {
			t.Errorf("%s names the file of no secret", s.path)
		}
	}
}
