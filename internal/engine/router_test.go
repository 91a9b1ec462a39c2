package engine_test

import (
	"errors"
	"testing"

	"github.com/trainyard/trainyard/internal/engine"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge/github"
	"github.com/trainyard/trainyard/internal/forge/gitlab"
	"github.com/trainyard/trainyard/internal/redistest"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// A project is one train per branch whatever the case its path is
// written in, as the forges and the configuration find it; a forge with
// no engine is refused by name.
func TestRouterFindsProjectsWithoutRegardToCase(t *testing.T) {
	t.Parallel()
	st := store.New(redistest.Client(t), store.Options{Prefix: redistest.Prefix(t)})
	gl := engine.New(engine.Config{Profile: gitlab.Profile(""), Owner: "t", Projects: []string{"Group/App"}}, st, nil, nil)
	r := engine.NewRouter(gl)
	for _, p := range []string{"group/app", "GROUP/APP", "Group/App"} {
		tr, err := r.Train(t.Context(), train.Key{Forge: gitlab.Name, Project: p, Branch: "main"})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Project != "Group/App" || tr.Forge != gitlab.Name {
			t.Errorf("%s: routed to the train of %s", p, tr.Key)
		}
	}
	jobs, err := r.Jobs(t.Context(), event.Event{ID: "e1", Forge: gitlab.Name, Project: "GROUP/app", Kind: event.KindPush, Ref: "main"})
	if err != nil || len(jobs) != 1 || jobs[0].Key.Project != "Group/App" || !jobs[0].Head {
		t.Errorf("jobs of a push = %+v, %v; want one head read of Group/App's train", jobs, err)
	}
	_, err = r.Jobs(t.Context(), event.Event{ID: "e1", Forge: github.Name, Project: "group/app", Kind: event.KindPush})
	if !errors.Is(err, engine.ErrUnknownForge) {
		t.Errorf("an event of a forge without an engine: %v, want ErrUnknownForge", err)
	}
}
