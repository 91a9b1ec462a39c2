package train

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

func TestLanesFoundMarksTheCarAtThatHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		obs  LanesFound
		want []string // car 2's lanes after the observation
	}{
		{"same head", LanesFound{MR: 2, HeadSHA: head(2), Lanes: []string{"api", "web"}, Of: "d1"}, []string{"api", "web"}},
		{"head moved on", LanesFound{MR: 2, HeadSHA: "old", Lanes: []string{"api"}}, nil},
		{"not on the train", LanesFound{MR: 9, HeadSHA: head(9), Lanes: []string{"api"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mk(at(1, StateRunning, "T"), queued(2))
			got, actions := Plan(tr, tc.obs, t0)
			if !slices.Equal(got.Cars[1].Lanes, tc.want) {
				t.Fatalf("lanes = %v, want %v", got.Cars[1].Lanes, tc.want)
			}
			if want := map[bool]string{true: tc.obs.Of}[tc.want != nil]; got.Cars[1].LanesOf != want {
				t.Fatalf("lanes read with %q, want %q", got.Cars[1].LanesOf, want)
			}
			if got.Cars[0].Lanes != nil {
				t.Fatalf("car 1 got lanes %v", got.Cars[0].Lanes)
			}
			// Lanes do not schedule yet: the train does what a tick does.
			if _, tick := Plan(tr, Tick{}, t0); !reflect.DeepEqual(actions, tick) {
				t.Fatalf("actions = %+v, a tick's = %+v", actions, tick)
			}
			if len(tc.obs.Lanes) > 0 && len(got.Cars[1].Lanes) > 0 {
				tc.obs.Lanes[0] = "changed"
				if got.Cars[1].Lanes[0] == "changed" {
					t.Fatal("the car shares the observation's slice")
				}
			}
		})
	}
}

func TestCarLanesAreSavedAndCloned(t *testing.T) {
	tr := mk(queued(2))
	tr.Settings.Lanes = []Lane{{Name: "api", Paths: []string{"services/api/**"}}}
	tr.Cars[0].Lanes = []string{"api"}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var saved Train
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(saved.Cars[0].Lanes, []string{"api"}) || !reflect.DeepEqual(saved.Settings.Lanes, tr.Settings.Lanes) {
		t.Fatalf("saved lanes = %v, settings %v", saved.Cars[0].Lanes, saved.Settings.Lanes)
	}
	back := tr.Clone()
	back.Cars[0].Lanes[0] = "x"
	if tr.Cars[0].Lanes[0] != "api" {
		t.Fatal("Clone shares the car's lanes")
	}
}

func TestLanesDigest(t *testing.T) {
	api := []Lane{{Name: "api", Paths: []string{"services/api/**"}}}
	if LanesDigest(nil) != "" {
		t.Error("no lanes have a digest")
	}
	for _, other := range [][]Lane{
		{{Name: "api", Paths: []string{"services/api/"}}},
		{{Name: "apx", Paths: []string{"services/api/**"}}},
		{{Name: "api", Paths: []string{"services/api/**", "libs/"}}},
		append(slices.Clone(api), Lane{Name: "web", Paths: []string{"web/"}}),
		// The same strings, cut elsewhere.
		{{Name: "api", Paths: []string{"services", "api/**"}}},
	} {
		if LanesDigest(other) == LanesDigest(api) {
			t.Errorf("%v has the digest of %v", other, api)
		}
	}
	if LanesDigest(slices.Clone(api)) != LanesDigest(api) {
		t.Error("the same lanes have two digests")
	}
}
