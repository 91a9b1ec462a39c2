package engine

import (
	"reflect"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

// What a sweep of the target's train concludes of an MR in its lanes
// from what it read of one lane: nothing while the lane holds it or its
// news may be on the way, the lane's recorded news when the target never
// heard it, and lost when the lane knows nothing of it.
func TestLaneLookNews(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lc := train.LaneCar{Add: train.Added{MR: 7, HeadSHA: "H7"}, Lanes: []string{"api"}, Since: since}
	holding := train.Train{Cars: []train.Car{{MR: 7, HeadSHA: "H7"}}}
	telling := train.Train{Outbox: train.Actions{train.Record{Car: train.Car{MR: 7}}}}
	why := train.Reason{Code: train.ReasonPipelineFailed, Pipeline: 9}
	left := func(state train.State, at time.Time, head string) []train.Car {
		c := train.Car{MR: 7, HeadSHA: head, State: state, LeftAt: at}
		if state == train.StateEvicted {
			c.Reason = &why
		}
		return []train.Car{{MR: 8, HeadSHA: "H8", State: train.StateMerged, LeftAt: since.Add(time.Hour)}, c}
	}
	for _, tt := range []struct {
		name string
		look laneLook
		want train.Observation
	}{
		{"read failed", laneLook{failed: true}, nil},
		{"work in its inbox", laneLook{train: &train.Train{}, busy: true}, nil},
		{"on the lane's train", laneLook{train: &holding}, nil},
		{"its departure being told", laneLook{train: &telling}, nil},
		{"merged there", laneLook{train: &train.Train{}, history: left(train.StateMerged, since.Add(time.Minute), "H7")},
			train.LanePassed{MR: 7, HeadSHA: "H7", Lane: "api"}},
		{"evicted there", laneLook{history: left(train.StateEvicted, since.Add(time.Minute), "H7")},
			train.LaneLeft{MR: 7, HeadSHA: "H7", Lane: "api", Reason: why}},
		{"only an earlier time there", laneLook{train: &train.Train{}, history: left(train.StateMerged, since.Add(-time.Minute), "H7")},
			train.LaneLost{MR: 7, HeadSHA: "H7", Lane: "api"}},
		{"only another head there", laneLook{train: &train.Train{}, history: left(train.StateMerged, since.Add(time.Minute), "H6")},
			train.LaneLost{MR: 7, HeadSHA: "H7", Lane: "api"}},
		{"the lane's train gone", laneLook{}, train.LaneLost{MR: 7, HeadSHA: "H7", Lane: "api"}},
	} {
		if got := tt.look.news(lc, "api"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %#v, want %#v", tt.name, got, tt.want)
		}
	}
}
