package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// clientConfig is the command-line client's own file: which servers it
// talks to, as named contexts, in the manner of kubectl's kubeconfig.
//
//	current_context: prod
//	contexts:
//	  prod:
//	    server: https://trainyard.example.com
//	    token_file: ~/.config/trainyard/prod.token
//	    forge: github
type clientConfig struct {
	path           string
	CurrentContext string                   `yaml:"current_context"`
	Contexts       map[string]clientContext `yaml:"contexts"`
}

type clientContext struct {
	Server string `yaml:"server"`
	// TokenFile holds the API token; relative paths are from the config
	// file's directory. Token is the token itself, for throwaway setups.
	TokenFile string `yaml:"token_file"`
	Token     string `yaml:"token"`
	Forge     string `yaml:"forge"`
}

var (
	configKeys  = []string{"current_context", "contexts"}
	contextKeys = []string{"server", "token_file", "token", "forge"}
)

// clientConfigPath is $TRAINYARD_CLIENT_CONFIG, else config.yaml under
// $XDG_CONFIG_HOME/trainyard, else under ~/.config/trainyard.
func clientConfigPath() string {
	if p := os.Getenv("TRAINYARD_CLIENT_CONFIG"); p != "" {
		return p
	}
	if dir := os.Getenv("XDG_CONFIG_HOME"); dir != "" {
		return filepath.Join(dir, "trainyard", "config.yaml")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "trainyard", "config.yaml")
}

// loadClientConfig reads the file at path; a missing file is an empty
// config, as most people never write one.
func loadClientConfig(path string) (*clientConfig, error) {
	cfg := &clientConfig{path: path}
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("client config %s: %w", path, err)
	}
	if err := checkKeys(&doc); err != nil {
		return nil, fmt.Errorf("client config %s: %w", path, err)
	}
	if err := doc.Decode(cfg); err != nil {
		return nil, fmt.Errorf("client config %s: %w", path, err)
	}
	if cfg.CurrentContext != "" {
		if _, ok := cfg.Contexts[cfg.CurrentContext]; !ok {
			return nil, fmt.Errorf("client config %s: current_context %q: no such context (have %s)", path, cfg.CurrentContext, cfg.names())
		}
	}
	return cfg, nil
}

// checkKeys refuses a field the file cannot mean, naming it and its line,
// so a typo such as "tokenfile" does not silently send no token.
func checkKeys(doc *yaml.Node) error {
	if len(doc.Content) == 0 {
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping with %s", top.Line, strings.Join(configKeys, " and "))
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if !slices.Contains(configKeys, k.Value) {
			return fmt.Errorf("line %d: unknown field %q (want %s)", k.Line, k.Value, strings.Join(configKeys, " or "))
		}
		if k.Value != "contexts" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: contexts: want a mapping of names to contexts", v.Line)
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			name, ctx := v.Content[j], v.Content[j+1]
			if ctx.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: context %q: want a mapping with %s", ctx.Line, name.Value, strings.Join(contextKeys, ", "))
			}
			for l := 0; l+1 < len(ctx.Content); l += 2 {
				if f := ctx.Content[l]; !slices.Contains(contextKeys, f.Value) {
					return fmt.Errorf("line %d: context %q: unknown field %q (want %s)", f.Line, name.Value, f.Value, strings.Join(contextKeys, ", "))
				}
			}
		}
	}
	return nil
}

func (c *clientConfig) names() string {
	if len(c.Contexts) == 0 {
		return "none"
	}
	names := make([]string, 0, len(c.Contexts))
	for n := range c.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// context returns the context named (or the current one when name is
// empty); no name and no current context is the zero context.
func (c *clientConfig) context(name string) (clientContext, error) {
	if name == "" {
		name = c.CurrentContext
	}
	if name == "" {
		return clientContext{}, nil
	}
	ctx, ok := c.Contexts[name]
	if !ok {
		return clientContext{}, usagef("context %q: not in %s (have %s)", name, c.displayPath(), c.names())
	}
	return ctx, nil
}

func (c *clientConfig) displayPath() string {
	if c.path == "" {
		return "the client config"
	}
	return c.path
}

// token reads the context's token, from its file when it names one.
func (c *clientConfig) token(ctx clientContext) (string, error) {
	if ctx.TokenFile == "" {
		return ctx.Token, nil
	}
	path := ctx.TokenFile
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("token_file %s: %w", path, err)
		}
		path = filepath.Join(home, rest)
	} else if !filepath.IsAbs(path) && c.path != "" {
		path = filepath.Join(filepath.Dir(c.path), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token_file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("token_file %s: empty", path)
	}
	return tok, nil
}

// use makes name the current context, editing the file in place so its
// comments and order stay.
func (c *clientConfig) use(name string) error {
	if _, ok := c.Contexts[name]; !ok {
		return usagef("context %q: not in %s (have %s)", name, c.displayPath(), c.names())
	}
	data, err := os.ReadFile(c.path)
	if err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("client config %s: %w", c.path, err)
	}
	top := doc.Content[0]
	found := false
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "current_context" {
			top.Content[i+1].Value, top.Content[i+1].Tag, top.Content[i+1].Style = name, "!!str", 0
			found = true
		}
	}
	if !found {
		top.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "current_context"},
			{Kind: yaml.ScalarNode, Value: name},
		}, top.Content...)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("client config %s: %w", c.path, err)
	}
	// The file may hold tokens: keep its mode rather than widen it.
	fi, err := os.Stat(c.path)
	if err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	if err := os.WriteFile(c.path, buf.Bytes(), fi.Mode().Perm()); err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	c.CurrentContext = name
	return nil
}
