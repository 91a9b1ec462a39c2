package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/trainyard/trainyard/internal/config"
)

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the service's configuration",
	}
	var output string
	check := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a configuration and print what serve would run with, secrets redacted",
		Long: "Validate a configuration file as `trainyard serve` reads it, with the TRAINYARD_*\n" +
			"environment variables applied, and print the effective configuration: every\n" +
			"setting that has a value, defaults included, with secrets redacted. Without FILE\n" +
			"it checks the file serve would read ($" + config.ConfigEnv + ", else the first of\n" +
			"trainyard.yaml, configs/trainyard.yaml and /etc/trainyard/trainyard.yaml).\n" +
			"Every problem is listed with its field; the exit status is then 1.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "yaml" && output != "json" && output != "table" {
				return usagef("-o %q: want yaml, json or table", output)
			}
			var path string
			if len(args) == 1 {
				path = args[0]
			} else {
				var err error
				if path, err = (*config.Flags)(nil).Locate(os.LookupEnv); err != nil {
					return err
				}
			}
			cfg, err := config.Load(path, os.LookupEnv, nil)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			for _, name := range config.UnknownEnv(os.Environ()) {
				fmt.Fprintf(stderr, "warning: %s is set but is not a setting; misspelt?\n", name)
			}
			for _, f := range cfg.ExposedSecretFiles() {
				fmt.Fprintf(stderr, "warning: %s %s is readable by other users (%s): chmod 600 it\n", f.Setting, f.Path, f.Mode)
			}
			if len(cfg.Projects) == 0 {
				fmt.Fprintf(stderr, "warning: %s lists no projects: serve refuses to start without --allow-empty\n", path)
			}
			fmt.Fprintf(stderr, "%s is valid: %d project(s)\n", path, len(cfg.Projects))
			doc := cfg.Effective()
			if output == "table" {
				return settingsTable(cmd.OutOrStdout(), doc)
			}
			if output == "json" {
				var v any
				if err := doc.Decode(&v); err != nil {
					return fmt.Errorf("encode the effective configuration: %w", err)
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			doc.HeadComment = "Effective configuration of " + path + ": defaults, the file and the\n" +
				"environment applied; secrets redacted."
			enc := yaml.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent(2)
			if err := enc.Encode(doc); err != nil {
				return fmt.Errorf("encode the effective configuration: %w", err)
			}
			return enc.Close()
		},
	}
	check.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml, json or table (one setting a line, by its path)")
	cmd.AddCommand(check)
	return cmd
}

// settingsTable prints a configuration document one setting a line: its
// path (projects[0].path) and its value.
func settingsTable(w io.Writer, doc *yaml.Node) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE")
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				if path != "" {
					key = path + "." + key
				}
				walk(n.Content[i+1], key)
			}
		case yaml.SequenceNode:
			if len(n.Content) == 0 {
				fmt.Fprintf(tw, "%s\t[]\n", path)
			}
			for i, c := range n.Content {
				walk(c, path+"["+strconv.Itoa(i)+"]")
			}
		case yaml.AliasNode:
			walk(n.Alias, path)
		default:
			fmt.Fprintf(tw, "%s\t%s\n", path, n.Value)
		}
	}
	walk(doc, "")
	return tw.Flush()
}
