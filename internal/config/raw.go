package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The raw types are the shape of the YAML file. yaml.v3 decodes into them
// strictly (unknown keys are errors) but keeps every setting as the node it
// was written as: parsing happens in the settings table, so each error can
// name its field and line.
type rawFile struct {
	Listen        yaml.Node    `yaml:"listen"`
	DataDir       yaml.Node    `yaml:"data_dir"`
	Log           rawLog       `yaml:"log"`
	Redis         rawRedis     `yaml:"redis"`
	Workers       yaml.Node    `yaml:"workers"`
	SweepInterval yaml.Node    `yaml:"sweep_interval"`
	LeaseTTL      yaml.Node    `yaml:"lease_ttl"`
	ClaimIdle     yaml.Node    `yaml:"claim_idle"`
	MaxDeliveries yaml.Node    `yaml:"max_deliveries"`
	ActionTimeout yaml.Node    `yaml:"action_timeout"`
	Webhook       rawWebhook   `yaml:"webhook"`
	Bot           rawBot       `yaml:"bot"`
	GitLab        rawGitLab    `yaml:"gitlab"`
	GitHub        rawGitHub    `yaml:"github"`
	API           rawAPI       `yaml:"api"`
	Train         rawTrain     `yaml:"train"`
	Projects      []rawProject `yaml:"projects"`
	Notify        []rawNotify  `yaml:"notify"`
}

type rawAPI struct {
	Token        yaml.Node `yaml:"token"`
	TokenFile    yaml.Node `yaml:"token_file"`
	ProtectReads yaml.Node `yaml:"protect_reads"`
}

type rawLog struct {
	Level  yaml.Node `yaml:"level"`
	Format yaml.Node `yaml:"format"`
}

type rawRedis struct {
	URL          yaml.Node `yaml:"url"`
	Addrs        yaml.Node `yaml:"addrs"`
	MasterName   yaml.Node `yaml:"master_name"`
	Username     yaml.Node `yaml:"username"`
	Password     yaml.Node `yaml:"password"`
	PasswordFile yaml.Node `yaml:"password_file"`
	Prefix       yaml.Node `yaml:"prefix"`
}

type rawWebhook struct {
	MaxBody  yaml.Node `yaml:"max_body"`
	DedupTTL yaml.Node `yaml:"dedup_ttl"`
}

type rawBot struct {
	Name  yaml.Node `yaml:"name"`
	Email yaml.Node `yaml:"email"`
}

type rawGitLab struct {
	URL               yaml.Node `yaml:"url"`
	Token             yaml.Node `yaml:"token"`
	TokenFile         yaml.Node `yaml:"token_file"`
	WebhookSecret     yaml.Node `yaml:"webhook_secret"`
	WebhookSecretFile yaml.Node `yaml:"webhook_secret_file"`
}

type rawGitHub struct {
	URL               yaml.Node `yaml:"url"`
	Token             yaml.Node `yaml:"token"`
	TokenFile         yaml.Node `yaml:"token_file"`
	AppID             yaml.Node `yaml:"app_id"`
	InstallationID    yaml.Node `yaml:"installation_id"`
	PrivateKey        yaml.Node `yaml:"private_key"`
	PrivateKeyFile    yaml.Node `yaml:"private_key_file"`
	WebhookSecret     yaml.Node `yaml:"webhook_secret"`
	WebhookSecretFile yaml.Node `yaml:"webhook_secret_file"`
	RequiredChecks    yaml.Node `yaml:"required_checks"`
	Workflows         yaml.Node `yaml:"workflows"`
	FastForward       yaml.Node `yaml:"fast_forward"`
}

type rawTrain struct {
	MaxParallel     yaml.Node `yaml:"max_parallel"`
	BatchSize       yaml.Node `yaml:"batch_size"`
	MinWindow       yaml.Node `yaml:"min_window"`
	EagerEviction   yaml.Node `yaml:"eager_eviction"`
	Retries         yaml.Node `yaml:"retries"`
	PipelineTimeout yaml.Node `yaml:"pipeline_timeout"`
	Method          yaml.Node `yaml:"method"`
	CarPrefix       yaml.Node `yaml:"car_prefix"`
	MinAccess       yaml.Node `yaml:"min_access"`
	MergeRules      yaml.Node `yaml:"merge_rules"`
	PauseRole       yaml.Node `yaml:"pause_role"`
}

type rawProject struct {
	Forge             yaml.Node `yaml:"forge"`
	Path              yaml.Node `yaml:"path"`
	Branches          yaml.Node `yaml:"branches"`
	MaxParallel       yaml.Node `yaml:"max_parallel"`
	BatchSize         yaml.Node `yaml:"batch_size"`
	MinWindow         yaml.Node `yaml:"min_window"`
	EagerEviction     yaml.Node `yaml:"eager_eviction"`
	Retries           yaml.Node `yaml:"retries"`
	PipelineTimeout   yaml.Node `yaml:"pipeline_timeout"`
	Method            yaml.Node `yaml:"method"`
	MinAccess         yaml.Node `yaml:"min_access"`
	MergeRules        yaml.Node `yaml:"merge_rules"`
	PauseRole         yaml.Node `yaml:"pause_role"`
	WebhookSecret     yaml.Node `yaml:"webhook_secret"`
	WebhookSecretFile yaml.Node `yaml:"webhook_secret_file"`
	RequiredChecks    yaml.Node `yaml:"required_checks"`
	Workflows         yaml.Node `yaml:"workflows"`
	FastForward       yaml.Node `yaml:"fast_forward"`
}

type rawNotify struct {
	Name     yaml.Node `yaml:"name"`
	Forge    yaml.Node `yaml:"forge"`
	Project  yaml.Node `yaml:"project"`
	Branches yaml.Node `yaml:"branches"`
	Kind     yaml.Node `yaml:"kind"`
	URL      yaml.Node `yaml:"url"`
	URLFile  yaml.Node `yaml:"url_file"`
	Events   yaml.Node `yaml:"events"`
	Username yaml.Node `yaml:"username"`
	IconURL  yaml.Node `yaml:"icon_url"`
}

var nodeType = reflect.TypeFor[yaml.Node]()

// nodes lists the settings of a raw section by YAML path. Lists of
// sections (projects) are left to the caller.
func nodes(section any) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			path := joinPath(prefix, yamlName(t.Field(i)))
			switch f := v.Field(i); {
			case f.Type() == nodeType:
				out[path] = f.Addr().Interface().(*yaml.Node)
			case f.Kind() == reflect.Struct:
				walk(f, path)
			}
		}
	}
	walk(reflect.ValueOf(section).Elem(), "")
	return out
}

// sectionNames maps the Go type names that yaml's messages use to the
// sections of the file they stand for.
func sectionNames() map[string]string {
	names := map[string]string{}
	var walk func(t reflect.Type, label, path string)
	walk = func(t reflect.Type, label, path string) {
		names[t.String()] = label
		for i := range t.NumField() {
			f := t.Field(i)
			switch path := joinPath(path, yamlName(f)); {
			case f.Type.Kind() == reflect.Slice:
				names[f.Type.String()] = path
				walk(f.Type.Elem(), "an entry of "+path, path)
			case f.Type.Kind() == reflect.Struct && f.Type != nodeType:
				walk(f.Type, path, path)
			}
		}
	}
	walk(reflect.TypeFor[rawFile](), "", "")
	return names
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// maxAliasDepth bounds the alias chain followed for one value.
const maxAliasDepth = 32

// nodeValue reads a setting's node. ok is false when the key is absent or
// null, which leaves the setting as it was.
func nodeValue(n *yaml.Node) (v value, ok bool, err error) {
	n, err = resolveAlias(n)
	if err != nil {
		return value{}, false, err
	}
	switch n.Kind {
	case 0:
		return value{}, false, nil
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return value{}, false, nil
		}
		return value{text: n.Value}, true, nil
	case yaml.SequenceNode:
		v = value{list: true, items: make([]string, 0, len(n.Content))}
		for i, item := range n.Content {
			item, err := resolveAlias(item)
			if err != nil {
				return value{}, false, err
			}
			if item.Kind != yaml.ScalarNode {
				return value{}, false, fmt.Errorf("item %d: want a single value, got %s", i, kindName(item.Kind))
			}
			v.items = append(v.items, item.Value)
		}
		return v, true, nil
	default:
		return value{}, false, fmt.Errorf("want a value, got %s", kindName(n.Kind))
	}
}

func resolveAlias(n *yaml.Node) (*yaml.Node, error) {
	for range maxAliasDepth {
		if n.Kind != yaml.AliasNode {
			return n, nil
		}
		if n.Alias == nil {
			return nil, errors.New("alias to nothing")
		}
		n = n.Alias
	}
	return nil, errors.New("aliases nested too deep")
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

// yamlProblems rewrites yaml's type errors, which name Go types and may
// quote part of a value (perhaps a secret), into messages that name the
// section and never quote a value.
func yamlProblems(msgs []string) []error {
	names := sectionNames()
	out := make([]error, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, errors.New(rewriteYAML(m, names)))
	}
	return out
}

func rewriteYAML(msg string, names map[string]string) string {
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return msg
	}
	num, rest, ok := strings.Cut(rest, ": ")
	if _, err := strconv.Atoi(num); !ok || err != nil {
		return msg
	}
	line := "line " + num + ": "
	in := func(typ string) string {
		if s := names[typ]; s != "" {
			return " in " + s
		}
		return ""
	}
	if field, typ, ok := cutBoth(rest, "field ", " not found in type "); ok {
		return fmt.Sprintf("%sunknown field %q%s", line, field, in(typ))
	}
	if quoted, first, ok := cutBoth(rest, "mapping key ", " already defined at line "); ok {
		return fmt.Sprintf("%sfield %s set twice (first on line %s)", line, quoted, first)
	}
	if what, ok := strings.CutPrefix(rest, "cannot unmarshal "); ok {
		return line + wrongShape(what, names)
	}
	return msg
}

// wrongShape rewrites "!!str `glpat-1...` into config.rawGitLab" without
// the quoted value.
func wrongShape(what string, names map[string]string) string {
	i := strings.LastIndex(what, " into ")
	if i < 0 {
		return "value has the wrong shape"
	}
	tag, _, _ := strings.Cut(what[:i], " ")
	got := kindName(yaml.ScalarNode)
	switch tag {
	case "!!map":
		got = kindName(yaml.MappingNode)
	case "!!seq":
		got = kindName(yaml.SequenceNode)
	}
	typ := what[i+len(" into "):]
	section, known := names[typ]
	switch {
	case !known:
		return "unexpected " + got
	case section == "":
		return "the file must be a mapping of settings, got " + got
	case strings.HasPrefix(typ, "[]"):
		return fmt.Sprintf("%s must be a list, got %s", section, got)
	default:
		return fmt.Sprintf("%s must be a mapping, got %s", section, got)
	}
}

func cutBoth(s, prefix, sep string) (a, b string, ok bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, sep)
}
