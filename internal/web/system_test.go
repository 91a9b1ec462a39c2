package web_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/api/apitest"
	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/train"
	"github.com/trainyard/trainyard/internal/web"
)

// system is a running merge train with the dashboard over it: the fake
// GitLab with pipelines that finish when told, real git, a real Redis and
// the real engine (apitest's), and the dashboard on a server of its own,
// looking for changed trains every 50 ms. The clock of the engine and the
// dashboard moves only when told, so times on the pages are exact.
type system struct {
	*apitest.Env
	t       *testing.T
	url     string // the dashboard's
	profile forge.Profile
	mrs     int // MRs opened, for their source branches
	puts    int // MRs put on trains, for their commands' event ids
}

// newSystem starts a system; wrap, if any, stands between the dashboard
// and its server.
func newSystem(t *testing.T, s train.Settings, wrap ...func(http.Handler) http.Handler) *system {
	t.Helper()
	env := apitest.New(t, apitest.Options{Settings: s})
	profile := gitlab.Profile(env.Forge.URL())
	d, err := web.New(web.Options{Trains: engine.NewRouter(env.Engine), Token: token, Public: true,
		Profiles: forge.Profiles{gitlab.Name: profile}, Now: env.Clock.Now, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = d
	for _, w := range wrap {
		h = w(h)
	}
	srv := httptest.NewServer(h)
	// The pages' event streams stay open until their tab closes; do not
	// wait for that.
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return &system{Env: env, t: t, url: srv.URL, profile: profile}
}

// mr is an MR to open: its title, who opens and adds it, the branch it
// targets (the default branch if empty), and whether its tests fail.
type mr struct {
	title, author, target string
	broken                bool
}

// open opens an MR with a file of its own and returns its number.
func (s *system) open(m mr) int64 {
	s.t.Helper()
	s.mrs++ // the forge numbers a project's MRs from 1 as they are opened
	files := map[string]string{fmt.Sprintf("changes/%d.txt", s.mrs): m.title + "\n"}
	if m.broken {
		files[brokenFile(int64(s.mrs))] = "a test that fails\n"
	}
	got, err := s.Forge.CreateMR(s.Ctx, apitest.Project, fakeforge.MRSpec{Source: fmt.Sprintf("change-%d", s.mrs),
		Target: m.target, Title: m.title, Author: cmp.Or(m.author, "alice"),
		Commits: []fakeforge.Commit{{Message: m.title, Files: files}}})
	if err != nil {
		s.t.Fatalf("open %q: %v", m.title, err)
	}
	return got.IID
}

// brokenFile is the file that fails the tests of MR iid when it is
// opened broken: the fake CI fails every tree holding a file named BROKEN.
func brokenFile(iid int64) string { return fmt.Sprintf("changes/%d/BROKEN", iid) }

// add opens the MR and puts it on its train.
func (s *system) add(m mr) int64 {
	s.t.Helper()
	iid := s.open(m)
	s.put(iid, cmp.Or(m.author, "alice"))
	return iid
}

// put puts an open MR on its train as the API does: the engine admits it
// and builds and starts what the train's window allows.
func (s *system) put(iid int64, by string) {
	s.t.Helper()
	s.puts++
	req := engine.Request{Forge: gitlab.Name, Project: apitest.Project, MR: iid, Username: by,
		Event: fmt.Sprintf("put-%d", s.puts), Trusted: true}
	if err := s.Engine.Add(s.Ctx, req); err != nil {
		s.t.Fatalf("add !%d: %v", iid, err)
	}
}

// train reads a train; the main branch's when branch is empty.
func (s *system) train(branch string) train.Train {
	s.t.Helper()
	tr, err := s.Engine.Train(s.Ctx, s.key(branch))
	if err != nil {
		s.t.Fatal(err)
	}
	return tr
}

func (s *system) key(branch string) train.Key {
	k := s.Key
	if branch != "" {
		k.Branch = branch
	}
	return k
}

// history reads the cars that left the main branch's train, newest first.
func (s *system) history() []train.Car {
	s.t.Helper()
	h, err := s.Engine.History(s.Ctx, s.Key, 50)
	if err != nil {
		s.t.Fatal(err)
	}
	return h
}

// finish ends the pipeline of the main branch's car iid with status
// ("success" or "failed") and sweeps the train until it has seen that.
func (s *system) finish(iid int64, status string) {
	s.t.Helper()
	tr := s.train("")
	i := tr.Index(iid)
	if i < 0 || tr.Cars[i].Pipeline == 0 {
		s.t.Fatalf("!%d has no pipeline to finish; the train: %+v", iid, tr.Cars)
	}
	pipeline := tr.Cars[i].Pipeline
	if err := s.Forge.FinishPipeline(s.Ctx, pipeline, status); err != nil {
		s.t.Fatalf("finish pipeline %d of !%d: %v", pipeline, iid, err)
	}
	s.settle("")
}

// settle sweeps a train, as the server's periodic sweep does, until a
// sweep changes nothing but the train's version: finished pipelines are
// seen, cars merged or evicted, and the cars behind built and started.
func (s *system) settle(branch string) {
	s.t.Helper()
	k := s.key(branch)
	state := func() string {
		tr := s.train(branch)
		tr.Version = 0
		b, err := json.Marshal(tr)
		if err != nil {
			s.t.Fatal(err)
		}
		return string(b)
	}
	for range 20 {
		before := state()
		if err := s.Engine.Sweep(s.Ctx, k); err != nil {
			s.t.Fatalf("sweep %s: %v", k, err)
		}
		if after := state(); after == before {
			return
		}
	}
	s.t.Fatalf("the train %s did not settle in 20 sweeps", k)
}

// left is the MR's car in the main branch's history, once it left.
func (s *system) left(iid int64) (train.Car, bool) {
	h := s.history()
	i := slices.IndexFunc(h, func(c train.Car) bool { return c.MR == iid })
	if i < 0 {
		return train.Car{}, false
	}
	return h[i], true
}

// trainPath is the dashboard's page of a train; the main branch's when
// branch is empty.
func (s *system) trainPath(branch string) string {
	k := s.key(branch)
	return "/trains/" + k.Forge + "/" + url.PathEscape(k.Project) + "/" + url.PathEscape(k.Branch)
}

// mrPath is the dashboard's page of an MR's journey.
func (s *system) mrPath(iid int64) string {
	return fmt.Sprintf("/mrs/%s/%s/%d", s.Key.Forge, url.PathEscape(s.Key.Project), iid)
}
