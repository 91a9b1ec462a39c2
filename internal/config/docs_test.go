package config

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The example file must set every field (so it shows each one in context)
// and name every environment variable (so it documents each one).
func TestExampleDocumentsEverySetting(t *testing.T) {
	text := readRepoFile(t, "configs/trainyard.example.yaml")
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	for _, s := range configSettings() {
		if lookup(root, strings.Split(s.path, ".")) == nil {
			t.Errorf("example does not set %s", s.path)
		}
		if !strings.Contains(text, s.env()) {
			t.Errorf("example does not mention %s", s.env())
		}
		if s.flag && !strings.Contains(text, "--"+s.flagName()) {
			t.Errorf("example does not mention --%s", s.flagName())
		}
	}
	projects := lookup(root, []string{"projects"})
	if projects == nil {
		t.Fatal("example has no projects")
	}
	everyKeyInSomeEntry(t, projects, "projects", projectSettings())
	notify := lookup(root, []string{"notify"})
	if notify == nil {
		t.Fatal("example has no notify routes")
	}
	everyKeyInSomeEntry(t, notify, "notify", notifySettings())
}

func everyKeyInSomeEntry[T any](t *testing.T, list *yaml.Node, section string, table []setting[T]) {
	t.Helper()
	for _, s := range table {
		found := false
		for _, entry := range list.Content {
			found = found || lookup(entry, []string{s.path}) != nil
		}
		if !found {
			t.Errorf("no entry of %s in the example sets %s", section, s.path)
		}
	}
}

// lookup finds the value at a path of keys in a mapping node.
func lookup(n *yaml.Node, path []string) *yaml.Node {
	if len(path) == 0 {
		return n
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == path[0] {
			return lookup(n.Content[i+1], path[1:])
		}
	}
	return nil
}

// The reference tables in docs/configuration.md are rendered from the
// settings tables, so every setting, every key of an entry and every
// secret is documented there; when a setting changes, paste the new table
// from the failure message.
func TestReferenceDocs(t *testing.T) {
	text := readRepoFile(t, "docs/configuration.md")
	for name, table := range map[string]string{
		"settings": settingsReference(), "project": entryReference(projectSettings()), "notify": entryReference(notifySettings()),
		"api token": entryReference(tokenSettings()),
		"secrets":   secretsReference(),
	} {
		if !strings.Contains(text, table) {
			t.Errorf("docs/configuration.md lacks the current %s table:\n\n%s", name, table)
		}
	}
	for _, s := range configSettings() {
		if !strings.Contains(text, "`"+s.env()+"`") {
			t.Errorf("docs/configuration.md does not mention %s", s.env())
		}
	}
}

func settingsReference() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Environment | Flag | Description |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	d := Defaults()
	for _, s := range configSettings() {
		flag := ""
		if s.flag {
			flag = "`--" + s.flagName() + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` | %s | %s |\n", s.path, s.kind, code(s.get(&d)), s.env(), flag, s.doc)
	}
	return b.String()
}

func entryReference[T any](table []setting[T]) string {
	var b strings.Builder
	b.WriteString("| Key | Type | Description |\n")
	b.WriteString("|---|---|---|\n")
	for _, s := range table {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", s.path, s.kind, s.doc)
	}
	return b.String()
}

// secretsReference lists each secret with its file setting and variables.
func secretsReference() string {
	var b strings.Builder
	b.WriteString("| Secret | File setting | Environment |\n")
	b.WriteString("|---|---|---|\n")
	for _, s := range secretsOf(&Config{}, configSettings(), "") {
		fmt.Fprintf(&b, "| `%s` | `%s_file` | `%s`, `%s` |\n", s.path, s.path, envName(s.path), envName(s.path+"_file"))
	}
	entries := append(secretsOf(&Project{}, projectSettings(), "projects[N]."), secretsOf(&NotifyRoute{}, notifySettings(), "notify[N].")...)
	entries = append(entries, secretsOf(&APIToken{}, tokenSettings(), "api.tokens[N].")...)
	for _, s := range entries {
		fmt.Fprintf(&b, "| `%s` | `%s_file` | none |\n", s.path, s.path)
	}
	return b.String()
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}
