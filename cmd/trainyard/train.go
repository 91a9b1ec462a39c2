package main

import (
	"context"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trainyard/trainyard/internal/buildinfo"
	"github.com/trainyard/trainyard/pkg/api"
	"github.com/trainyard/trainyard/pkg/client"
)

const defaultServer = "http://127.0.0.1:8080"

// trainOptions are the flags every train command shares.
type trainOptions struct {
	server, token, context, forge, output string
}

const clientConfigHelp = "$TRAINYARD_CLIENT_CONFIG, else $XDG_CONFIG_HOME/trainyard/config.yaml,\n" +
	"else ~/.config/trainyard/config.yaml"

func newTrainCommand() *cobra.Command {
	o := &trainOptions{}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Show and drive merge trains through a Trainyard server's API",
		Long: "Show and drive merge trains through a Trainyard server's API.\n\n" +
			"The server and token come from --server and --token, else from\n" +
			"TRAINYARD_SERVER and TRAINYARD_TOKEN, else from the context (--context,\n" +
			"TRAINYARD_CONTEXT, else current_context) of the client config\n" +
			"(" + clientConfigHelp + "). Changing a train needs the token.",
		Example: "  trainyard train list\n" +
			"  trainyard train show group/app main\n" +
			"  trainyard train add group/app 42\n" +
			"  trainyard train freeze group/app main --reason \"release 2.0 is being cut\"\n" +
			"  trainyard train history group/app main -o json",
	}
	clientFlags(cmd, o)
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.forge, "forge", "gitlab", "forge of the project: gitlab or github (default: the context's, else gitlab)")
	_ = cmd.RegisterFlagCompletionFunc("forge", cobra.FixedCompletions([]string{"gitlab", "github"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.AddCommand(
		newTrainListCommand(o), newTrainShowCommand(o), newTrainHistoryCommand(o),
		newTrainMRCommand(o, mrCommand{use: "add", past: "Added", queues: true, do: (*client.Client).Add,
			short: "Put a merge request on the train for its target branch"}),
		newTrainMRCommand(o, mrCommand{use: "remove", past: "Removed", do: (*client.Client).Remove,
			short: "Take a merge request off its train"}),
		newTrainMRCommand(o, mrCommand{use: "retry", past: "Retried", queues: true, do: (*client.Client).Retry,
			short: "Rebuild a merge request's car, or put it back on the train"}),
		newTrainPauseCommand(o, trainCommand{use: "pause", past: "Paused", do: (*client.Client).Pause,
			short: "Stop a train from starting pipelines or merging; running pipelines go on"}),
		newTrainPauseCommand(o, trainCommand{use: "resume", past: "Resumed", do: (*client.Client).Resume,
			short: "Let a paused train go on"}),
		newTrainFreezeCommand(o),
		newTrainPauseCommand(o, trainCommand{use: "unfreeze", past: "Unfroze", do: (*client.Client).Unfreeze,
			short: "Lift a train's freeze: what passed merges"}),
		newTrainPauseCommand(o, trainCommand{use: "drain", past: "Draining", do: (*client.Client).Drain,
			short: "Let a train finish the merge requests on it and take no new ones"}),
		newTrainPauseCommand(o, trainCommand{use: "undrain", past: "Stopped draining", do: (*client.Client).Undrain,
			short: "Let a draining train take new merge requests again"}),
	)
	return cmd
}

// setup checks the shared flags and returns a client and a printer. A
// flag wins over the environment, which wins over the client config's
// context.
func (o *trainOptions) setup(cmd *cobra.Command) (*client.Client, *printer, error) {
	p, err := newPrinter(cmd.OutOrStdout(), o.output)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := loadClientConfig(clientConfigPath())
	if err != nil {
		return nil, nil, err
	}
	cc, err := cfg.context(firstSet(o.context, os.Getenv("TRAINYARD_CONTEXT")))
	if err != nil {
		return nil, nil, err
	}
	if f := cmd.Flags().Lookup("forge"); f != nil && !f.Changed && cc.Forge != "" {
		o.forge = cc.Forge
	}
	if o.forge == "" || strings.ContainsFunc(o.forge, func(c rune) bool { return c < 'a' || c > 'z' }) {
		return nil, nil, usagef("--forge %q: want a forge name such as gitlab", o.forge)
	}
	server := firstSet(o.server, os.Getenv("TRAINYARD_SERVER"), cc.Server, defaultServer)
	if u, err := url.Parse(server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, usagef("server %q: want a URL such as %s", server, defaultServer)
	}
	token := firstSet(o.token, os.Getenv("TRAINYARD_TOKEN"))
	if token == "" {
		if token, err = cfg.token(cc); err != nil {
			return nil, nil, err
		}
	}
	return client.New(server, token, client.WithUserAgent("trainyard/"+buildinfo.Get().Version)), p, nil
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func newTrainListCommand(o *trainOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the trains",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			trains, err := c.Trains(cmd.Context())
			if err != nil {
				return err
			}
			return p.print(api.TrainList{Trains: trains}, func() error { return p.trainList(trains) })
		},
	}
}

func newTrainShowCommand(o *trainOptions) *cobra.Command {
	return &cobra.Command{
		Use:               "show PROJECT BRANCH",
		Short:             "Show a train's cars, their pipelines and when they should merge",
		ValidArgsFunction: o.completeTrain,
		Args:              cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			t, err := c.Train(cmd.Context(), o.forge, args[0], args[1])
			if err != nil {
				return err
			}
			return p.print(t, func() error { return p.train(t) })
		},
	}
}

func newTrainHistoryCommand(o *trainOptions) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:               "history PROJECT BRANCH",
		Short:             "Show the merge requests that left a train, newest first",
		ValidArgsFunction: o.completeTrain,
		Args:              cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			if limit < 1 {
				return usagef("--limit %d: want 1 or more", limit)
			}
			entries, err := c.History(cmd.Context(), o.forge, args[0], args[1], limit)
			if err != nil {
				return err
			}
			h := api.History{Forge: o.forge, Project: args[0], Branch: args[1], Entries: entries}
			return p.print(h, func() error { return p.history(entries) })
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many entries to show")
	return cmd
}

// mrCommand describes add, remove or retry.
type mrCommand struct {
	use, short, past string
	// queues: the command takes --priority and --method.
	queues bool
	do     func(c *client.Client, ctx context.Context, forge, project string, mr int64, req api.MRRequest) (api.MRStatus, error)
}

func newTrainMRCommand(o *trainOptions, m mrCommand) *cobra.Command {
	var req api.MRRequest
	complete := o.completeMR
	if m.use == "add" {
		complete = o.completeOpenMR // MRs not on a train yet
	}
	cmd := &cobra.Command{
		Use:               m.use + " PROJECT MR",
		Short:             m.short,
		ValidArgsFunction: complete,
		Args:              cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			mr, err := parseMR(args[1])
			if err != nil {
				return err
			}
			st, err := m.do(c, cmd.Context(), o.forge, args[0], mr, req)
			if err != nil {
				return err
			}
			return p.print(st, func() error { return p.mrStatus(m.past, st) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.User, "user", "", "username the command is for (default: the token's name)")
	f.StringVar(&req.Branch, "branch", "", "the train meant; a merge request targeting another branch is refused")
	if m.queues {
		f.StringVar(&req.Priority, "priority", "", "normal, urgent (ahead of the cars not yet tested, cancelling nothing) or high (to the front, restarting the cars behind)")
		f.StringVar(&req.Method, "method", "", "merge, squash or rebase (default: the train's)")
	}
	return cmd
}

// parseMR reads "12", "!12" or "#12".
func parseMR(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimLeft(s, "!#"), 10, 64)
	if err != nil || n <= 0 {
		return 0, usagef("merge request %q: want a number such as 12, !12 or #12", s)
	}
	return n, nil
}

// trainCommand describes pause, resume, unfreeze, drain or undrain.
type trainCommand struct {
	use, short, past string
	do               func(c *client.Client, ctx context.Context, forge, project, branch string, req api.TrainRequest) (api.Train, error)
}

func newTrainPauseCommand(o *trainOptions, tc trainCommand) *cobra.Command {
	var req api.TrainRequest
	cmd := &cobra.Command{
		Use:               tc.use + " PROJECT BRANCH",
		Short:             tc.short,
		ValidArgsFunction: o.completeTrain,
		Args:              cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			t, err := tc.do(c, cmd.Context(), o.forge, args[0], args[1], req)
			if err != nil {
				return err
			}
			return p.print(t, func() error { return p.paused(tc.past, t) })
		},
	}
	cmd.Flags().StringVar(&req.User, "user", "", "username the train's notices name (default: the token's name)")
	return cmd
}

// newTrainFreezeCommand is pause with a reason, which it needs.
func newTrainFreezeCommand(o *trainOptions) *cobra.Command {
	var req api.FreezeRequest
	cmd := &cobra.Command{
		Use:   "freeze PROJECT BRANCH",
		Short: "Hold a train's target branch: cars are still tested, nothing merges until unfreeze",
		Long: "Hold a train's target branch with a reason (--reason, required): its cars are\n" +
			"still built and tested, nothing merges until trainyard train unfreeze. The\n" +
			"reason is shown on the merge requests, in chat and on the dashboard.",
		Example:           "  trainyard train freeze group/app main --reason \"release 2.0 is being cut\"",
		ValidArgsFunction: o.completeTrain,
		Args:              cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			if strings.TrimSpace(req.Reason) == "" {
				return usagef("--reason: required; say why the train is frozen, like --reason \"release 2.0 is being cut\"")
			}
			t, err := c.Freeze(cmd.Context(), o.forge, args[0], args[1], req)
			if err != nil {
				return err
			}
			return p.print(t, func() error { return p.paused("Froze", t) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Reason, "reason", "", "why the train is frozen, shown to people (required; at most 200 characters)")
	f.StringVar(&req.User, "user", "", "username the train's notices name (default: the token's name)")
	return cmd
}
