package app

import (
	"context"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/config"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// A train of a branch the configuration names itself is never retired:
// the dashboard and the API list it whatever it holds. A train of a
// branch a pattern allowed is, once idle long enough.
func TestRetireKeepsConfiguredBranches(t *testing.T) {
	cfg, err := config.Parse([]byte(`
gitlab: {url: https://gitlab.example.com, token: x, webhook_secret: s3cret-hook-value}
projects:
  - {forge: gitlab, path: group/app, branches: [main, release/*]}
`), func(string) (string, bool) { return "", false }, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, rdb := redistest.MiniServer(t)
	st := store.New(rdb, store.Options{Prefix: "t"})
	eng := engine.New(engine.Config{Profile: gitlab.Profile(""), Owner: "test", Projects: []string{"group/app"}}, st, nil, nil)
	a := &App{cfg: cfg, engines: engine.NewRouter(eng)}
	ctx := context.Background()
	idle := func(branch string) train.Key {
		t.Helper()
		k := train.Key{Forge: "gitlab", Project: "group/app", Branch: branch}
		tr := train.New(k, train.Settings{})
		tr.IdleSince = time.Now().Add(-train.RetireAfter - time.Hour)
		if _, err := st.Save(ctx, tr); err != nil {
			t.Fatal(err)
		}
		return k
	}
	main, release := idle("main"), idle("release/1")
	if ok, err := a.retire(ctx, main); ok || err != nil {
		t.Fatalf("retire main: %v, %v; want kept", ok, err)
	}
	if ok, err := a.retire(ctx, release); !ok || err != nil {
		t.Fatalf("retire release/1: %v, %v; want retired", ok, err)
	}
	if keys, err := st.List(ctx); err != nil || len(keys) != 1 || keys[0] != main {
		t.Fatalf("trains left: %v, %v; want main alone", keys, err)
	}
}
