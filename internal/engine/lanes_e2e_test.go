package engine_test

import (
	"slices"
	"testing"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/train"
)

// A car added before its project had lanes gets them at the next sweep of
// a replica that has them, gets them again when the lanes change, and
// loses them when the lanes are gone.
func TestSweepReadsTheLanesOfCarsThatLackThem(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{ci: fakeforge.CI{Manual: true}})
	api := e.mr(1, map[string]string{"services/api/x.go": "package api\n"})
	web := e.mr(2, map[string]string{"web/app.js": "1;\n"})
	e.addAll(api, web)
	lanesOf := func() map[int64][]string {
		t.Helper()
		tr, err := e.eng.Train(e.ctx, e.key)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64][]string{}
		for _, c := range tr.Cars {
			out[c.MR] = c.Lanes
		}
		return out
	}
	if got := lanesOf(); len(got) != 2 || got[api] != nil || got[web] != nil {
		t.Fatalf("lanes before the project had any: %v", got)
	}

	// Each MR also adds its own mr-N.txt.
	settings := train.Settings{Lanes: []train.Lane{{Name: "api", Paths: []string{"services/api/**", "mr-1.txt"}}, {Name: "web", Paths: []string{"web/", "mr-2.txt"}}}}
	withLanes := e.replica("lanes", settings)
	if err := withLanes.Sweep(e.ctx, e.key); err != nil {
		t.Fatal(err)
	}
	tr, err := withLanes.Train(e.ctx, e.key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range tr.Cars {
		want := map[int64][]string{api: {"api"}, web: {"web"}}[c.MR]
		if !slices.Equal(c.Lanes, want) {
			t.Errorf("!%d's lanes after the sweep: %v, want %v", c.MR, c.Lanes, want)
		}
	}

	// The same lanes with other paths: read again.
	settings.Lanes = slices.Clone(settings.Lanes)
	settings.Lanes[0].Paths = append(slices.Clone(settings.Lanes[0].Paths), "mr-2.txt")
	moved := e.replica("moved", settings)
	if err := moved.Sweep(e.ctx, e.key); err != nil {
		t.Fatal(err)
	}
	if got := lanesOf(); !slices.Equal(got[api], []string{"api"}) || !slices.Equal(got[web], []string{"api", "web"}) {
		t.Fatalf("lanes after their paths changed: %v", got)
	}

	// Back on a replica without lanes: the cars show none.
	if err := e.eng.Sweep(e.ctx, e.key); err != nil {
		t.Fatal(err)
	}
	if got := lanesOf(); got[api] != nil || got[web] != nil {
		t.Fatalf("lanes after they were dropped: %v", got)
	}
}
