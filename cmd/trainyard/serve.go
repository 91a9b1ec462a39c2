package main

import (
	"fmt"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/trainyard/trainyard/internal/app"
	"github.com/trainyard/trainyard/internal/config"
)

func newServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the merge train service: webhooks, workers and the sweep",
		Long: "Run the merge train service. Configuration comes from the YAML file named by --config\n" +
			"(else by $" + config.ConfigEnv + ", else the first of trainyard.yaml, configs/trainyard.yaml\n" +
			"and /etc/trainyard/trainyard.yaml that exists), then TRAINYARD_* environment variables,\n" +
			"then flags; see configs/trainyard.example.yaml. `trainyard config check` shows what\n" +
			"it would run with.",
		Args: cobra.NoArgs,
	}
	flags := config.BindFlags(cmd.Flags())
	var allowEmpty bool
	cmd.Flags().BoolVar(&allowEmpty, "allow-empty", false, "start even when the configuration lists no project")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		path, err := flags.Locate(os.LookupEnv)
		if err != nil {
			return err
		}
		cfg, err := config.Load(path, os.LookupEnv, flags)
		if err != nil {
			return err
		}
		if len(cfg.Projects) == 0 && !allowEmpty {
			// Every webhook would be dropped: most likely the wrong file
			// was read, or it is a fresh install not configured yet.
			return fmt.Errorf("%s lists no projects, so no train would run: add one under projects "+
				"(configs/trainyard.example.yaml shows how), or pass --allow-empty to start anyway", path)
		}
		log, err := newLogger(cfg.Log)
		if err != nil {
			return err
		}
		defer func() { _ = log.Sync() }()
		// go-redis logs through one package-level logger, plain text on
		// stderr by default; serve owns the process, so it routes those
		// lines into its own structured log, once, before any client
		// exists. Library code (app, the demo, tests) leaves it alone.
		redis.SetLogger(app.NewRedisLogger(log.Named("redis")))
		a, err := app.New(cfg, log, app.WithConfigPath(path))
		if err != nil {
			return err
		}
		return a.Run(cmd.Context())
	}
	return cmd
}

func newLogger(c config.Log) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if c.Format == "console" {
		zc = zap.NewDevelopmentConfig()
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.DisableStacktrace = true
	return zc.Build()
}
