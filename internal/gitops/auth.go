package gitops

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
)

// credentials give the http.extraHeader git authenticates with. A fixed
// token is encoded once; a token source is asked before every fetch and
// push, and each token it gives joins the strings scrubbed from errors.
type credentials struct {
	run    *runner
	user   string
	source func(context.Context) (string, error)

	mu   sync.Mutex
	last string
	pair []configPair
}

func newCredentials(run *runner, token string, source func(context.Context) (string, error), user string) *credentials {
	c := &credentials{run: run, user: user, source: source}
	if token != "" {
		c.remember(token)
	}
	return c
}

// config returns the settings that authenticate one git call.
func (c *credentials) config(ctx context.Context) ([]configPair, error) {
	if c.source == nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.pair, nil
	}
	token, err := c.source(ctx)
	if err != nil {
		return nil, fmt.Errorf("git credentials: %w", err)
	}
	if token == "" {
		return nil, fmt.Errorf("git credentials: %w: the token source gave an empty token", ErrInvalidArgument)
	}
	return c.remember(token), nil
}

func (c *credentials) remember(token string) []configPair {
	c.mu.Lock()
	defer c.mu.Unlock()
	if token == c.last {
		return c.pair
	}
	basic := base64.StdEncoding.EncodeToString([]byte(c.user + ":" + token))
	c.run.addSecrets(token, basic)
	c.last = token
	c.pair = []configPair{{key: "http.extraHeader", value: "Authorization: Basic " + basic}}
	return c.pair
}
