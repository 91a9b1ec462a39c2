package engine

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/gitops"
)

// GitRepos opens one bare mirror per project under a data directory and
// keeps it open for the life of the process.
type GitRepos struct {
	Dir   string
	Token string
	// TokenSource, instead of Token, gives the token of each fetch and
	// push (a GitHub App's installation token, renewed before it expires).
	TokenSource func(context.Context) (string, error)
	TokenUser   string
	Identity    gitops.Identity
	// CloneURL gives a project's clone URL, without credentials.
	CloneURL func(project string) string
	Logger   *zap.Logger

	mu    sync.Mutex
	repos map[string]*gitops.Repo
}

// Repo returns the project's mirror, opening it on first use.
func (g *GitRepos) Repo(ctx context.Context, project string) (Repo, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.repos[project]; ok {
		return r, nil
	}
	r, err := gitops.Open(ctx, gitops.Options{
		Dir: g.Dir, Project: project, RemoteURL: g.CloneURL(project),
		Token: g.Token, TokenSource: g.TokenSource, TokenUser: g.TokenUser, Identity: g.Identity, Logger: g.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("open mirror of %s: %w", project, err)
	}
	if g.repos == nil {
		g.repos = map[string]*gitops.Repo{}
	}
	g.repos[project] = r
	return r, nil
}
