package main

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

// newFakeforgeCommand runs the fake forge (with no subcommand, or serve)
// and drives a running one through its control API.
func newFakeforgeCommand() *cobra.Command {
	serve := newFakeforgeServeCommand()
	cmd := &cobra.Command{
		Use:   "fakeforge",
		Short: "Run a GitLab- and GitHub-compatible test forge with simulated CI, or drive a running one",
		Long: "Run a GitLab- and GitHub-compatible test forge with simulated CI on a loopback port\n" +
			"(`trainyard fakeforge` alone is `trainyard fakeforge serve`), or drive a running one through\n" +
			"its control API: create projects and users, open merge requests, comment, approve, push\n" +
			"and finish pipelines. See docs/playground.md.",
		Args: cobra.NoArgs,
		RunE: serve.RunE,
	}
	// The forge's flags stay on fakeforge itself, so the invocation
	// without serve keeps working.
	cmd.Flags().AddFlagSet(serve.Flags())
	o := &controlOptions{}
	cmd.AddCommand(serve, newFFProjectCommand(o), newFFUserCommand(o), newFFMRCommand(o),
		newFFPushCommand(o), newFFPipelineCommand(o), newFFCommitCommand(o))
	return cmd
}

func newFakeforgeServeCommand() *cobra.Command {
	var o fakeforge.Options
	var token, user, controlToken string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the fake forge until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				dir, err := os.MkdirTemp("", "trainyard-fakeforge-")
				if err != nil {
					return fmt.Errorf("fakeforge: data dir: %w", err)
				}
				defer os.RemoveAll(dir)
				o.Dir = dir
			}
			if controlToken == "" {
				controlToken = rand.Text()
			}
			o.Tokens = map[string]string{token: user}
			f, err := fakeforge.New(o)
			if err != nil {
				return err
			}
			if err := f.StartWithControl(cmd.Context(), controlToken); err != nil {
				return err
			}
			defer f.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "fake forge at %s (data in %s)\n", f.URL(), o.Dir)
			fmt.Fprintf(out, "control API at %s%s; drive it with:\n", f.URL(), fakeforge.ControlPrefix)
			fmt.Fprintf(out, "  export FAKEFORGE_URL=%s FAKEFORGE_TOKEN=%s\n", f.URL(), controlToken)
			<-cmd.Context().Done()
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Addr, "listen", fakeforge.DefaultAddr, "listen address (loopback)")
	fl.StringVar(&o.Dir, "dir", "", "data directory (a temporary one when empty)")
	fl.StringVar(&token, "token", "fakeforge-token", "API and git token of the bot user")
	fl.StringVar(&user, "user", "trainyard-bot", "username of the bot user")
	fl.StringVar(&controlToken, "control-token", "", fmt.Sprintf("token of the control API, at least %d characters (default: a random one, printed)", fakeforge.MinControlTokenLen))
	fl.StringVar(&o.Webhook.URL, "webhook-url", "", "where to send webhooks")
	fl.StringVar(&o.Webhook.Secret, "webhook-secret", "", "X-Gitlab-Token sent with webhooks")
	fl.StringVar(&o.GitHub.Webhook.URL, "github-webhook-url", "", "where to send GitHub webhooks")
	fl.StringVar(&o.GitHub.Webhook.Secret, "github-webhook-secret", "", "secret GitHub webhooks are signed with (X-Hub-Signature-256)")
	fl.StringSliceVar(&o.GitHub.Actions.Branches, "actions-branches", []string{"trainyard/**"}, "branches whose pushes run the simulated GitHub Actions workflow")
	fl.StringSliceVar(&o.GitHub.Actions.Checks, "actions-checks", []string{fakeforge.DefaultCheck}, "jobs, and so check runs, of the simulated workflow")
	fl.DurationVar(&o.CI.Duration, "ci-duration", time.Second, "how long each pipeline runs")
	fl.BoolVar(&o.CI.Manual, "ci-manual", false, "keep every pipeline running until it is finished through the control API (pipeline finish)")
	fl.Float64Var(&o.CI.FlakeRate, "flake-rate", 0, "fraction of pipelines that fail by chance")
	fl.Uint64Var(&o.Seed, "seed", 1, "seed of every random draw")
	return cmd
}

// controlOptions are the flags of every command that drives a running
// forge.
type controlOptions struct {
	url, token, output string
}

func (o *controlOptions) bind(cmd *cobra.Command) *cobra.Command {
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.url, "url", "", "URL of the running fake forge (default $FAKEFORGE_URL)")
	pf.StringVar(&o.token, "token", "", "its control token (default $FAKEFORGE_TOKEN)")
	pf.StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

// client checks the flags and returns a client and a printer.
func (o *controlOptions) client(cmd *cobra.Command) (*fakeforge.ControlClient, *printer, error) {
	p, err := newPrinter(cmd.OutOrStdout(), o.output)
	if err != nil {
		return nil, nil, err
	}
	base := firstSet(o.url, os.Getenv("FAKEFORGE_URL"))
	if base == "" {
		return nil, nil, usagef("no forge URL: pass --url or set FAKEFORGE_URL to what `trainyard fakeforge` printed")
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, usagef("--url %q: want a URL such as http://127.0.0.1:8929", base)
	}
	token := firstSet(o.token, os.Getenv("FAKEFORGE_TOKEN"))
	if token == "" {
		return nil, nil, usagef("no control token: pass --token or set FAKEFORGE_TOKEN to what `trainyard fakeforge` printed")
	}
	return fakeforge.NewControlClient(strings.TrimRight(base, "/"), token, nil), p, nil
}

// call runs one request and prints its answer as a table (rows) or as
// JSON or YAML.
func (o *controlOptions) call(cmd *cobra.Command, method, path string, body, out any, table func(*tabwriter.Writer)) error {
	c, p, err := o.client(cmd)
	if err != nil {
		return err
	}
	if err := c.Do(cmd.Context(), method, path, body, out); err != nil {
		return err
	}
	return p.print(out, func() error {
		tw := tabwriter.NewWriter(p.w, 0, 8, 2, ' ', 0)
		table(tw)
		return tw.Flush()
	})
}

func group(o *controlOptions, use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	cmd.AddCommand(subs...)
	return o.bind(cmd)
}

// fileFlags reads --file PATH=CONTENT flags into a map.
func fileFlags(specs []string) (map[string]string, error) {
	files := map[string]string{}
	for _, s := range specs {
		name, content, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, usagef("--file %q: want PATH=CONTENT", s)
		}
		files[name] = content + "\n"
	}
	return files, nil
}

func projectRows(tw *tabwriter.Writer, ps ...fakeforge.ControlProject) {
	fmt.Fprintln(tw, "ID\tPATH\tDEFAULT BRANCH\tCLONE URL")
	for _, p := range ps {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", p.ID, clean(p.Path), clean(p.DefaultBranch), clean(p.CloneURL))
	}
}

func mrRows(tw *tabwriter.Writer, ms ...fakeforge.ControlMR) {
	fmt.Fprintln(tw, "MR\tSTATE\tSOURCE\tTARGET\tAUTHOR\tSHA\tTITLE")
	for _, m := range ms {
		fmt.Fprintf(tw, "!%d\t%s\t%s\t%s\t%s\t%.8s\t%s\n", m.IID, clean(m.State), clean(m.SourceBranch), clean(m.TargetBranch),
			clean(m.Author), clean(m.SHA), clean(m.Title))
	}
}

func pipelineRows(tw *tabwriter.Writer, ps ...fakeforge.ControlPipeline) {
	fmt.Fprintln(tw, "ID\tSTATUS\tREF\tSHA\tSOURCE")
	for _, p := range ps {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.8s\t%s\n", p.ID, clean(p.Status), clean(p.Ref), clean(p.SHA), clean(p.Source))
	}
}

func newFFProjectCommand(o *controlOptions) *cobra.Command {
	var req fakeforge.CreateProjectRequest
	var files, members []string
	create := &cobra.Command{
		Use:     "create GROUP/NAME",
		Short:   "Create a project whose default branch holds the given files",
		Example: "  trainyard fakeforge project create acme/app --file README.md='# app' --member alice=developer",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			req.Path = args[0]
			if req.Files, err = fileFlags(files); err != nil {
				return err
			}
			req.Members = map[string]string{}
			for _, m := range members {
				name, role, ok := strings.Cut(m, "=")
				if !ok {
					return usagef("--member %q: want USER=ROLE, such as alice=developer", m)
				}
				req.Members[name] = role
			}
			var p fakeforge.ControlProject
			return o.call(cmd, "POST", "/projects", req, &p, func(tw *tabwriter.Writer) { projectRows(tw, p) })
		},
	}
	create.Flags().StringArrayVar(&files, "file", nil, "PATH=CONTENT of a file of the first commit (repeatable)")
	create.Flags().StringArrayVar(&members, "member", nil, "USER=ROLE membership, role none to owner (repeatable)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the projects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ps []fakeforge.ControlProject
			return o.call(cmd, "GET", "/projects", nil, &ps, func(tw *tabwriter.Writer) { projectRows(tw, ps...) })
		},
	}
	return group(o, "project", "Create and list projects", create, list)
}

func newFFUserCommand(o *controlOptions) *cobra.Command {
	var req fakeforge.CreateUserRequest
	var project, access string
	add := &cobra.Command{
		Use:     "add USERNAME",
		Short:   "Create a user, and give them access to a project",
		Example: "  trainyard fakeforge user add alice --project acme/app --access developer",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (project == "") != (access == "") {
				return usagef("--project and --access go together")
			}
			req.Username = args[0]
			var u fakeforge.ControlUser
			if project == "" {
				return o.call(cmd, "POST", "/users", req, &u, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "User %s (id %d).\n", clean(u.Username), u.ID)
				})
			}
			c, _, err := o.client(cmd)
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), "POST", "/users", req, &u); err != nil {
				return err
			}
			var m fakeforge.ControlMember
			return o.call(cmd, "PUT", fakeforge.ProjectPath(project)+"/members/"+url.PathEscape(u.Username),
				fakeforge.SetAccessRequest{Access: access}, &m, func(tw *tabwriter.Writer) {
					fmt.Fprintf(tw, "User %s is %s of %s.\n", clean(m.Username), clean(m.Role), clean(m.Project))
				})
		},
	}
	add.Flags().StringVar(&req.Token, "api-token", "", "also give the user this API and git token")
	add.Flags().StringVar(&project, "project", "", "project to give the user access to")
	add.Flags().StringVar(&access, "access", "", "role on --project: none, guest, reporter, developer, maintainer or owner")
	return group(o, "user", "Create users and set their access", add)
}

func newFFMRCommand(o *controlOptions) *cobra.Command {
	var open fakeforge.OpenMRRequest
	var files []string
	openCmd := &cobra.Command{
		Use:   "open PROJECT SOURCE-BRANCH",
		Short: "Open a merge request from a new commit on its source branch",
		Example: "  trainyard fakeforge mr open acme/app feature-1 --author alice --file feature.txt=one\n" +
			"  trainyard fakeforge mr open acme/app broken --author alice --fail\n" +
			"  trainyard fakeforge mr open acme/app clash --author bob --conflicts-with 1",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if open.Files, err = fileFlags(files); err != nil {
				return err
			}
			open.Source = args[1]
			var m fakeforge.ControlMR
			return o.call(cmd, "POST", fakeforge.ProjectPath(args[0])+"/mrs", open, &m, func(tw *tabwriter.Writer) { mrRows(tw, m) })
		},
	}
	of := openCmd.Flags()
	of.StringVar(&open.Author, "author", "", "username of the author (created when unknown)")
	of.StringVar(&open.Target, "target", "", "target branch (default: the project's default branch)")
	of.StringVar(&open.Title, "title", "", "title (default: the source branch)")
	of.StringVar(&open.Description, "description", "", "description")
	of.BoolVar(&open.Draft, "draft", false, "open it as a draft")
	of.StringArrayVar(&files, "file", nil, "PATH=CONTENT of a file the commit writes (repeatable)")
	of.BoolVar(&open.Fail, "fail", false, "add the CI failure marker, so its pipelines fail")
	of.Int64Var(&open.ConflictsWith, "conflicts-with", 0, "iid of an open merge request to conflict with")
	_ = openCmd.MarkFlagRequired("author")

	var state string
	list := &cobra.Command{
		Use:   "list PROJECT",
		Short: "List a project's merge requests, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := fakeforge.ProjectPath(args[0]) + "/mrs"
			if state != "" {
				path += "?state=" + url.QueryEscape(state)
			}
			var ms []fakeforge.ControlMR
			return o.call(cmd, "GET", path, nil, &ms, func(tw *tabwriter.Writer) { mrRows(tw, ms...) })
		},
	}
	list.Flags().StringVar(&state, "state", "", "only opened, closed or merged ones")

	var comment fakeforge.CommentRequest
	commentCmd := &cobra.Command{
		Use:     "comment PROJECT MR BODY",
		Short:   "Comment on a merge request, as a person typing /train add would",
		Example: "  trainyard fakeforge mr comment acme/app 1 '/train add' --author alice",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			iid, err := parseMR(args[1])
			if err != nil {
				return err
			}
			comment.Body = args[2]
			var n fakeforge.ControlNote
			return o.call(cmd, "POST", fakeforge.MRPath(args[0], iid)+"/comments", comment, &n, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "Comment %d by %s on !%d.\n", n.ID, clean(n.Author), iid)
			})
		},
	}
	commentCmd.Flags().StringVar(&comment.Author, "author", "", "username of the commenter")
	_ = commentCmd.MarkFlagRequired("author")

	comments := &cobra.Command{
		Use:   "comments PROJECT MR",
		Short: "List a merge request's comments, oldest first (Trainyard's replies included)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			iid, err := parseMR(args[1])
			if err != nil {
				return err
			}
			var ns []fakeforge.ControlNote
			return o.call(cmd, "GET", fakeforge.MRPath(args[0], iid)+"/comments", nil, &ns, func(tw *tabwriter.Writer) {
				for _, n := range ns {
					// A comment's lines are kept, and only those.
					fmt.Fprintf(tw, "%s (%s):\n%s\n\n", clean(n.Author), n.CreatedAt.Format(time.RFC3339),
						strings.TrimRight(printable(n.Body, true), "\n "))
				}
			})
		},
	}

	var approve fakeforge.ApproveRequest
	approveCmd := &cobra.Command{
		Use:   "approve PROJECT MR",
		Short: "Approve a merge request",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			iid, err := parseMR(args[1])
			if err != nil {
				return err
			}
			var m fakeforge.ControlMR
			return o.call(cmd, "POST", fakeforge.MRPath(args[0], iid)+"/approve", approve, &m, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "%s approved !%d.\n", clean(approve.User), iid)
			})
		},
	}
	approveCmd.Flags().StringVar(&approve.User, "user", "", "username of the approver")
	_ = approveCmd.MarkFlagRequired("user")

	var review fakeforge.ReviewRequest
	reviewCmd := &cobra.Command{
		Use:   "review PROJECT PR",
		Short: "Review a pull request (GitHub): approve it, request changes or comment",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			iid, err := parseMR(args[1])
			if err != nil {
				return err
			}
			var rs []fakeforge.ReviewAnswer
			return o.call(cmd, "POST", fakeforge.MRPath(args[0], iid)+"/reviews", review, &rs, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tUSER\tSTATE\tCOMMIT")
				for _, r := range rs {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%.12s\n", r.ID, clean(r.User), clean(r.State), clean(r.Commit))
				}
			})
		},
	}
	reviewCmd.Flags().StringVar(&review.User, "user", "", "username of the reviewer")
	reviewCmd.Flags().StringVar(&review.State, "state", "approved", "approved, changes_requested or commented")
	reviewCmd.Flags().StringVar(&review.Body, "body", "", "the review's text")
	_ = reviewCmd.MarkFlagRequired("user")

	var push fakeforge.PushRequest
	var pushFiles []string
	pushCmd := &cobra.Command{
		Use:   "push PROJECT MR",
		Short: "Push a commit to a merge request's source branch",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			iid, err := parseMR(args[1])
			if err != nil {
				return err
			}
			if push.Files, err = fileFlags(pushFiles); err != nil {
				return err
			}
			var res fakeforge.ControlPush
			return o.call(cmd, "POST", fakeforge.MRPath(args[0], iid)+"/push", push, &res, func(tw *tabwriter.Writer) { pushed(tw, res) })
		},
	}
	pushFlags(pushCmd, &push, &pushFiles)
	pushCmd.Flags().StringVar(&push.Author, "author", "", "pusher (default: the merge request's author)")
	return group(o, "mr", "Open, list, comment on, approve, review and push to merge requests", openCmd, list, commentCmd, comments, approveCmd, reviewCmd, pushCmd)
}

// newFFCommitCommand reports check runs on commits, as other apps do on
// GitHub, and lists the statuses set on a commit (Trainyard's own).
func newFFCommitCommand(o *controlOptions) *cobra.Command {
	var run fakeforge.CheckRunRequest
	checkCmd := &cobra.Command{
		Use:   "check PROJECT SHA",
		Short: "Report a check run on a commit, as a GitHub app would",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var a fakeforge.CheckRunAnswer
			return o.call(cmd, "POST", fakeforge.ProjectPath(args[0])+"/commits/"+url.PathEscape(args[1])+"/check-runs", run, &a, func(tw *tabwriter.Writer) {
				fmt.Fprintf(tw, "Check run %d: %s %s %s.\n", a.ID, clean(run.Name), clean(run.Status), clean(run.Conclusion))
			})
		},
	}
	checkCmd.Flags().StringVar(&run.Name, "name", "", "the check's name")
	checkCmd.Flags().StringVar(&run.App, "app", "", "slug of the app that reports it (default github-actions)")
	checkCmd.Flags().StringVar(&run.Status, "status", "completed", "queued, in_progress or completed")
	checkCmd.Flags().StringVar(&run.Conclusion, "conclusion", "", "for a completed run: success, failure, cancelled, neutral, skipped, timed_out or action_required")
	_ = checkCmd.MarkFlagRequired("name")

	var name string
	statusesCmd := &cobra.Command{
		Use:   "statuses PROJECT SHA",
		Short: "List the statuses set on a commit through the API (trainyard's by default)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var list []fakeforge.CommitStatus
			path := fakeforge.ProjectPath(args[0]) + "/commits/" + url.PathEscape(args[1]) + "/statuses?name=" + url.QueryEscape(name)
			return o.call(cmd, "GET", path, nil, &list, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tNAME\tSTATE\tDESCRIPTION\tLINK")
				for _, s := range list {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.ID, clean(s.Name), clean(s.State), clean(s.Description), clean(s.TargetURL))
				}
			})
		},
	}
	statusesCmd.Flags().StringVar(&name, "name", "trainyard", "the status's name")
	return group(o, "commit", "Report check runs on commits and list their statuses", checkCmd, statusesCmd)
}

func pushFlags(cmd *cobra.Command, push *fakeforge.PushRequest, files *[]string) {
	f := cmd.Flags()
	f.StringVarP(&push.Message, "message", "m", "", "commit message")
	f.StringArrayVar(files, "file", nil, "PATH=CONTENT of a file the commit writes (repeatable)")
	f.StringArrayVar(&push.Delete, "delete", nil, "path the commit deletes (repeatable)")
	f.BoolVar(&push.Fail, "fail", false, "add the CI failure marker, so pipelines of this tree fail")
}

func pushed(tw *tabwriter.Writer, res fakeforge.ControlPush) {
	fmt.Fprintf(tw, "Pushed %s of %s to %s.\n", clean(res.Branch), clean(res.Project), clean(res.SHA))
}

func newFFPushCommand(o *controlOptions) *cobra.Command {
	var push fakeforge.PushRequest
	var files []string
	cmd := &cobra.Command{
		Use:     "push PROJECT [BRANCH]",
		Short:   "Push a commit to a branch (default: the project's default branch), as from outside any merge request",
		Example: "  trainyard fakeforge push acme/app main --author bob --file hotfix.txt=fixed",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if push.Files, err = fileFlags(files); err != nil {
				return err
			}
			if len(args) == 2 {
				push.Branch = args[1]
			}
			var res fakeforge.ControlPush
			return o.call(cmd, "POST", fakeforge.ProjectPath(args[0])+"/push", push, &res, func(tw *tabwriter.Writer) { pushed(tw, res) })
		},
	}
	pushFlags(cmd, &push, &files)
	cmd.Flags().StringVar(&push.Author, "author", "", "username of the pusher")
	_ = cmd.MarkFlagRequired("author")
	return o.bind(cmd)
}

func newFFPipelineCommand(o *controlOptions) *cobra.Command {
	var status string
	list := &cobra.Command{
		Use:   "list PROJECT",
		Short: "List a project's pipelines, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := fakeforge.ProjectPath(args[0]) + "/pipelines"
			if status != "" {
				path += "?status=" + url.QueryEscape(status)
			}
			var ps []fakeforge.ControlPipeline
			return o.call(cmd, "GET", path, nil, &ps, func(tw *tabwriter.Writer) { pipelineRows(tw, ps...) })
		},
	}
	list.Flags().StringVar(&status, "status", "", "only pipelines in this status")
	finish := &cobra.Command{
		Use:     "finish PROJECT PIPELINE success|failed|canceled",
		Short:   "End a running or pending pipeline with a status",
		Example: "  trainyard fakeforge pipeline finish acme/app 12 failed",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseMR(args[1])
			if err != nil {
				return usagef("pipeline %q: want a number such as 12", args[1])
			}
			var p fakeforge.ControlPipeline
			return o.call(cmd, "POST", fmt.Sprintf("%s/pipelines/%d/finish", fakeforge.ProjectPath(args[0]), id),
				fakeforge.FinishPipelineRequest{Status: args[2]}, &p, func(tw *tabwriter.Writer) { pipelineRows(tw, p) })
		},
	}
	return group(o, "pipeline", "List and finish pipelines", list, finish)
}
