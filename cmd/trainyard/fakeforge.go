package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

func newFakeforgeCommand() *cobra.Command {
	var o fakeforge.Options
	var token, user string
	cmd := &cobra.Command{
		Use:   "fakeforge",
		Short: "Run a GitLab- and GitHub-compatible test forge with simulated CI on a loopback port",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				dir, err := os.MkdirTemp("", "trainyard-fakeforge-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				o.Dir = dir
			}
			o.Tokens = map[string]string{token: user}
			f, err := fakeforge.New(o)
			if err != nil {
				return err
			}
			if err := f.Start(cmd.Context()); err != nil {
				return err
			}
			defer f.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "fake forge at %s (data in %s)\n", f.URL(), o.Dir)
			<-cmd.Context().Done()
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Addr, "listen", fakeforge.DefaultAddr, "listen address (loopback)")
	fl.StringVar(&o.Dir, "dir", "", "data directory (a temporary one when empty)")
	fl.StringVar(&token, "token", "fakeforge-token", "API and git token of the bot user")
	fl.StringVar(&user, "user", "trainyard-bot", "username of the bot user")
	fl.StringVar(&o.Webhook.URL, "webhook-url", "", "where to send webhooks")
	fl.StringVar(&o.Webhook.Secret, "webhook-secret", "", "X-Gitlab-Token sent with webhooks")
	fl.StringVar(&o.GitHub.Webhook.URL, "github-webhook-url", "", "where to send GitHub webhooks")
	fl.StringVar(&o.GitHub.Webhook.Secret, "github-webhook-secret", "", "secret GitHub webhooks are signed with (X-Hub-Signature-256)")
	fl.StringSliceVar(&o.GitHub.Actions.Branches, "actions-branches", []string{"trainyard/**"}, "branches whose pushes run the simulated GitHub Actions workflow")
	fl.StringSliceVar(&o.GitHub.Actions.Checks, "actions-checks", []string{fakeforge.DefaultCheck}, "jobs, and so check runs, of the simulated workflow")
	fl.DurationVar(&o.CI.Duration, "ci-duration", time.Second, "how long each pipeline runs")
	fl.Float64Var(&o.CI.FlakeRate, "flake-rate", 0, "fraction of pipelines that fail by chance")
	fl.Uint64Var(&o.Seed, "seed", 1, "seed of every random draw")
	return cmd
}
