package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	apiserver "github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/buildinfo"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/train"
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
	pf.StringVar(&o.forge, "forge", gitlab.Name, "forge of the project: "+orList(forgeNames())+" (default: the context's, else gitlab)")
	_ = cmd.RegisterFlagCompletionFunc("forge", cobra.FixedCompletions(forgeNames(), cobra.ShellCompDirectiveNoFileComp))
	cmd.AddCommand(
		newTrainListCommand(o), newTrainShowCommand(o), newTrainHistoryCommand(o),
		newTrainMRCommand(o, mrCommand{use: "add", past: "Added", queues: true, do: (*client.Client).Add,
			short: "Put a merge request on the train for its target branch"}),
		newTrainMRCommand(o, mrCommand{use: "remove", past: "Removed", do: (*client.Client).Remove,
			short: "Take a merge request off its train"}),
		newTrainMRCommand(o, mrCommand{use: "retry", past: "Retried", queues: true, do: (*client.Client).Retry,
			short: "Rebuild a merge request's car, or put it back on the train"}),
		newTrainPauseCommand(o, trainCommand{use: "pause", past: "Paused", do: (*client.Client).Pause,
			already: "was paused already", was: func(t api.Train) bool { return t.Paused },
			short: "Stop a train from starting pipelines or merging; running pipelines go on"}),
		newTrainPauseCommand(o, trainCommand{use: "resume", past: "Resumed", do: (*client.Client).Resume,
			already: "was not paused", was: func(t api.Train) bool { return !t.Paused },
			short: "Let a paused train go on"}),
		newTrainFreezeCommand(o),
		newTrainPauseCommand(o, trainCommand{use: "unfreeze", past: "Unfroze", do: (*client.Client).Unfreeze,
			already: "was not frozen", was: func(t api.Train) bool { return t.Frozen == nil },
			short: "Lift a train's freeze: what passed merges"}),
		newTrainPauseCommand(o, trainCommand{use: "drain", past: "Draining", do: (*client.Client).Drain,
			already: "was draining already", was: func(t api.Train) bool { return t.Draining },
			short: "Let a train finish the merge requests on it and take no new ones"}),
		newTrainPauseCommand(o, trainCommand{use: "undrain", past: "Stopped draining", do: (*client.Client).Undrain,
			already: "was not draining", was: func(t api.Train) bool { return !t.Draining },
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
	forgeFrom := "--forge"
	if f := cmd.Flags().Lookup("forge"); f != nil && !f.Changed && cc.Forge != "" {
		o.forge, forgeFrom = cc.Forge, "the context's forge"
	}
	// Any other name is a typo: asked for, it would be "not found".
	if !slices.Contains(forgeNames(), o.forge) {
		return nil, nil, usagef("%s %q: want %s", forgeFrom, o.forge, orList(forgeNames()))
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

// forgeNames are the forges a server may serve.
func forgeNames() []string { return []string{gitlab.Name, github.Name} }

// orList writes values as a sentence does: "a, b or c".
func orList(vs []string) string {
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}

// checkLimit refuses a --limit outside what the server answers, 1 to
// most, before asking it.
func checkLimit(limit, most int) error {
	if limit < 1 || limit > most {
		return usagef("--limit %d: want a number from 1 to %d", limit, most)
	}
	return nil
}

// checkUser refuses a --user the server would, before asking it.
func checkUser(user string) error {
	if _, err := apiserver.CheckUser(user); err != nil {
		return usagef("--%v", err)
	}
	return nil
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
			if err := checkLimit(limit, apiserver.MaxHistory); err != nil {
				return err
			}
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			entries, err := c.History(cmd.Context(), o.forge, args[0], args[1], limit)
			if err != nil {
				return err
			}
			h := api.History{Forge: o.forge, Project: args[0], Branch: args[1], Entries: entries}
			return p.print(h, func() error { return p.history(entries) })
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, fmt.Sprintf("how many entries to show (at most %d)", apiserver.MaxHistory))
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
			if err := checkMRRequest(req); err != nil {
				return err
			}
			mr, err := parseMR(args[1])
			if err != nil {
				return err
			}
			c, p, err := o.setup(cmd)
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
		_ = cmd.RegisterFlagCompletionFunc("priority", cobra.FixedCompletions(priorities(), cobra.ShellCompDirectiveNoFileComp))
		_ = cmd.RegisterFlagCompletionFunc("method", cobra.FixedCompletions(methods(), cobra.ShellCompDirectiveNoFileComp))
	}
	return cmd
}

func priorities() []string {
	return []string{string(train.PriorityNormal), string(train.PriorityUrgent), string(train.PriorityHigh)}
}

func methods() []string {
	return []string{string(train.MethodMerge), string(train.MethodSquash), string(train.MethodRebase)}
}

// checkMRRequest refuses the flags of an MR command that the server
// would, before asking it.
func checkMRRequest(req api.MRRequest) error {
	switch {
	case req.Priority != "" && !train.Priority(req.Priority).Valid():
		return usagef("--priority %q: want %s", req.Priority, orList(priorities()))
	case req.Method != "" && !train.Method(req.Method).Valid():
		return usagef("--method %q: want %s", req.Method, orList(methods()))
	case req.Branch != "" && !apiserver.ValidBranch(req.Branch):
		return usagef("--branch %q: want a branch name", req.Branch)
	}
	return checkUser(req.User)
}

// parseMR reads "12", "!12" or "#12": digits, after one mark at most.
func parseMR(s string) (int64, error) {
	digits := s
	if strings.HasPrefix(s, "!") || strings.HasPrefix(s, "#") {
		digits = s[1:]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	// ParseInt takes a sign too.
	if err != nil || n <= 0 || strings.ContainsFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) {
		return 0, usagef("merge request %q: want a number such as 12, !12 or #12", s)
	}
	return n, nil
}

// trainCommand describes pause, resume, unfreeze, drain or undrain.
type trainCommand struct {
	use, short, past string
	do               func(c *client.Client, ctx context.Context, forge, project, branch string, req api.TrainRequest) (api.Train, error)
	// was reports whether a train is in the state the command puts it
	// in already; the command then says so, with already, rather than
	// claim a change it did not make.
	was     func(api.Train) bool
	already string
}

func newTrainPauseCommand(o *trainOptions, tc trainCommand) *cobra.Command {
	var req api.TrainRequest
	cmd := &cobra.Command{
		Use:               tc.use + " PROJECT BRANCH",
		Short:             tc.short,
		ValidArgsFunction: o.completeTrain,
		Args:              cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkUser(req.User); err != nil {
				return err
			}
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
			}
			// Read first only to word the answer: the command itself is
			// sent whatever the train was, and a failed read is left to
			// the command to report.
			before, err := c.Train(cmd.Context(), o.forge, args[0], args[1])
			unchanged := err == nil && tc.was(before)
			t, err := tc.do(c, cmd.Context(), o.forge, args[0], args[1], req)
			if err != nil {
				return err
			}
			return p.print(t, func() error {
				if unchanged && tc.was(t) {
					return p.unchanged(tc.already, t)
				}
				return p.paused(tc.past, t)
			})
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
			if strings.TrimSpace(req.Reason) == "" {
				return usagef("--reason: required; say why the train is frozen, like --reason \"release 2.0 is being cut\"")
			}
			if _, err := apiserver.CheckReason(req.Reason); err != nil {
				return usagef("--%v", err)
			}
			if err := checkUser(req.User); err != nil {
				return err
			}
			c, p, err := o.setup(cmd)
			if err != nil {
				return err
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
