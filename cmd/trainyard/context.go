package main

import (
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newContextCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "context",
		Short: "List and switch the servers of the client config",
		Long: "List and switch the named contexts of the client config\n(" + clientConfigHelp + ").\n\n" +
			"A context names a server, a token file and a forge:\n\n" +
			"  current_context: prod\n" +
			"  contexts:\n" +
			"    prod:\n" +
			"      server: https://trainyard.example.com\n" +
			"      token_file: ~/.config/trainyard/prod.token\n" +
			"      forge: github",
	}
	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List the contexts; the current one is marked *",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := newPrinter(cmd.OutOrStdout(), output)
			if err != nil {
				return err
			}
			cfg, err := loadClientConfig(clientConfigPath())
			if err != nil {
				return err
			}
			type row struct {
				Name    string `json:"name"`
				Server  string `json:"server"`
				Forge   string `json:"forge,omitempty"`
				Current bool   `json:"current"`
			}
			rows := []row{}
			for name, c := range cfg.Contexts {
				rows = append(rows, row{Name: name, Server: c.Server, Forge: c.Forge, Current: name == cfg.CurrentContext})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
			return p.print(map[string]any{"contexts": rows}, func() error {
				if len(rows) == 0 {
					_, err := fmt.Fprintf(p.w, "No contexts in %s.\n", cfg.displayPath())
					return err
				}
				tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CURRENT\tNAME\tSERVER\tFORGE")
				for _, r := range rows {
					mark := ""
					if r.Current {
						mark = "*"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, clean(r.Name), clean(r.Server), clean(r.Forge))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	use := &cobra.Command{
		Use:               "use NAME",
		Short:             "Make a context the current one",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContexts,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadClientConfig(clientConfigPath())
			if err != nil {
				return err
			}
			if err := cfg.use(args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Using context %q of %s.\n", args[0], cfg.displayPath())
			return err
		},
	}
	cmd.AddCommand(list, use)
	return cmd
}

func completeContexts(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	cfg, err := loadClientConfig(clientConfigPath())
	if err != nil || len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(cfg.Contexts))
	for n, c := range cfg.Contexts {
		names = append(names, n+"\t"+c.Server)
	}
	sort.Strings(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}
