// Package apitest serves the API over a real engine for tests: the fake
// GitLab forge with manually finished pipelines, the real GitLab client
// library, real git and a real Redis.
package apitest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/api"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/gitops"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// The project every Env holds, and the API token it is served with.
const (
	Project = "group/app"
	Token   = "api-token-for-tests"
)

const botToken = "bot-token-for-tests"

// Options tune an Env.
type Options struct {
	// NoToken serves the API without a token.
	NoToken bool
	// ProtectReads makes reads need the token.
	ProtectReads bool
	// Tokens are named tokens beside Token.
	Tokens []api.Token
	// Settings of the trains.
	Settings train.Settings
}

// Env is a running API over one project.
type Env struct {
	Ctx    context.Context
	Forge  *fakeforge.Forge
	Engine *engine.Engine
	// Store is the engine's store; it holds the event stream and its dead
	// letters too, which the API serves.
	Store *store.Store
	// Clock is the engine's and the API's clock; it moves only when told.
	Clock *Clock
	// URL is the API server's base URL (no path).
	URL string
	// Key is the train of the project's main branch.
	Key train.Key
	tb  testing.TB
}

// New starts an Env that lives as long as tb.
func New(tb testing.TB, o Options) *Env {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	ff, err := fakeforge.New(fakeforge.Options{
		Dir: tb.TempDir(), Tokens: map[string]string{botToken: "trainyard-bot"},
		CI: fakeforge.CI{Manual: true}, Seed: 1,
	})
	if err != nil {
		tb.Fatalf("apitest: fake forge: %v", err)
	}
	if err := ff.Start(ctx); err != nil {
		tb.Fatalf("apitest: start fake forge: %v", err)
	}
	tb.Cleanup(func() { _ = ff.Close() })
	if _, err := ff.CreateProject(ctx, Project, map[string]string{"README.md": "# app\n"}); err != nil {
		tb.Fatalf("apitest: create project: %v", err)
	}
	client, err := gitlab.New(gitlab.Options{BaseURL: ff.URL(), Token: botToken,
		BackoffBase: time.Millisecond, BackoffMax: 20 * time.Millisecond})
	if err != nil {
		tb.Fatalf("apitest: gitlab client: %v", err)
	}
	st := store.New(redistest.Client(tb), store.Options{Prefix: redistest.Prefix(tb)})
	repos := &engine.GitRepos{Dir: tb.TempDir(), Token: botToken, CloneURL: client.CloneURL,
		Identity: gitops.Identity{Name: "Trainyard", Email: "trainyard@example.com"}}
	clock := &Clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	eng := engine.New(engine.Config{Profile: gitlab.Profile(ff.URL()), Owner: "api-test", Settings: o.Settings, Projects: []string{Project},
		PipelinesByAPI: true}, st, client, repos, engine.WithClock(clock.Now))
	router := engine.NewRouter(eng)
	opts := api.Options{
		Trains: router, Events: st, Token: Token, Tokens: o.Tokens, ProtectReads: o.ProtectReads,
		Profiles: forge.Profiles{gitlab.Name: gitlab.Profile(ff.URL())}, Now: clock.Now,
	}
	if o.NoToken {
		opts.Token = ""
	}
	// The engine freezes and drains its own trains; the router, which
	// the server uses, does once it routes those calls too.
	opts.Freeze = api.FreezingOf(nil, router, eng)
	srv := httptest.NewServer(api.New(opts))
	tb.Cleanup(srv.Close)
	return &Env{Ctx: ctx, Forge: ff, Engine: eng, Store: st, Clock: clock, URL: srv.URL, tb: tb,
		Key: train.Key{Forge: "gitlab", Project: Project, Branch: "main"}}
}

// MR opens MR number n of the project, adding its own file; draft MRs
// are titled "Draft: Change n".
func (e *Env) MR(n int, draft bool) int64 {
	e.tb.Helper()
	title := fmt.Sprintf("Change %d", n)
	if draft {
		title = "Draft: " + title
	}
	m, err := e.Forge.CreateMR(e.Ctx, Project, fakeforge.MRSpec{
		Source: fmt.Sprintf("feature-%d", n), Title: title, Author: "alice", Draft: draft,
		Commits: []fakeforge.Commit{{Message: title, Files: map[string]string{fmt.Sprintf("mr-%d.txt", n): "change\n"}}},
	})
	if err != nil {
		e.tb.Fatalf("apitest: open MR %d: %v", n, err)
	}
	return m.IID
}

// Sweep brings the train up to date with the forge, as the server's
// periodic sweep does: cars added through the API are built and their
// pipelines started.
func (e *Env) Sweep() {
	e.tb.Helper()
	if err := e.Engine.Sweep(e.Ctx, e.Key); err != nil {
		e.tb.Fatalf("apitest: sweep: %v", err)
	}
}

// Pass runs the train until it is empty, finishing every pipeline with
// success.
func (e *Env) Pass() {
	e.tb.Helper()
	for {
		e.Sweep()
		t, err := e.Engine.Train(e.Ctx, e.Key)
		if err != nil {
			e.tb.Fatalf("apitest: load the train: %v", err)
		}
		if t.Idle() && len(t.Outbox) == 0 {
			return
		}
		ps, err := e.Forge.Pipelines(Project)
		if err != nil {
			e.tb.Fatalf("apitest: pipelines: %v", err)
		}
		for _, p := range ps {
			if p.Status == "created" || p.Status == "pending" || p.Status == "running" {
				// A pipeline already told to finish says so; that is fine.
				_ = e.Forge.FinishPipeline(e.Ctx, p.ID, fakeforge.PipelineSuccess)
			}
		}
		select {
		case <-e.Ctx.Done():
			e.tb.Fatalf("apitest: the train did not empty: %+v", t.Cars)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Notes returns the bodies of the notes on an MR, joined by newlines.
func (e *Env) Notes(iid int64) string {
	e.tb.Helper()
	notes, err := e.Forge.Notes(Project, iid)
	if err != nil {
		e.tb.Fatalf("apitest: notes of !%d: %v", iid, err)
	}
	var b strings.Builder
	for _, n := range notes {
		b.WriteString(n.Body + "\n")
	}
	return b.String()
}

// EventGroup is the consumer group Bury reads the event stream as.
const EventGroup = "api-test"

// Bury queues data as an event, has EventGroup read it as a worker does
// and moves it to the dead letters as delivered deliveries times and
// failed for reason, at the clock's time. It returns the dead letter's id
// and the entry the event had. Every other event queued must have been
// read already.
func (e *Env) Bury(data []byte, reason string, deliveries int64) (id, entry string) {
	e.tb.Helper()
	entry, err := e.Store.AddEvent(e.Ctx, data)
	if err != nil {
		e.tb.Fatalf("apitest: queue an event: %v", err)
	}
	if err := e.Store.EnsureGroup(e.Ctx, EventGroup); err != nil {
		e.tb.Fatalf("apitest: %v", err)
	}
	evs, err := e.Store.ReadEvents(e.Ctx, EventGroup, "worker", 10, 0)
	if err != nil || len(evs) != 1 || evs[0].ID != entry {
		e.tb.Fatalf("apitest: read events = %+v, %v; want the one queued, %s", evs, err, entry)
	}
	evs[0].Deliveries = deliveries
	id, err = e.Store.Bury(e.Ctx, EventGroup, evs[0], reason, e.Clock.Now())
	if err != nil {
		e.tb.Fatalf("apitest: %v", err)
	}
	return id, entry
}

// Clock is a clock that moves only when advanced.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
