package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/trainyard/trainyard/pkg/api"
)

func TestDurationJSON(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 1499 * time.Millisecond: "1", 1500 * time.Millisecond: "2", 90 * time.Minute: "5400",
	} {
		b, err := json.Marshal(api.Duration(d))
		if err != nil || string(b) != want {
			t.Errorf("marshal %v = %s, %v; want %s", d, b, err, want)
		}
	}
	for in, want := range map[string]time.Duration{"60": time.Minute, "1.5": 1500 * time.Millisecond, "0": 0} {
		var d api.Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.Std() != want {
			t.Errorf("unmarshal %s = %v, %v; want %v", in, d, err, want)
		}
	}
	for _, in := range []string{`"1m"`, `1e300`, `true`} {
		var d api.Duration
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("unmarshal %s: no error", in)
		}
	}
}

func TestCarOmitsWhatIsUnknown(t *testing.T) {
	b, err := json.Marshal(api.Car{Position: 1, MR: 2, Title: "t", State: api.StateQueued, AddedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"position":1,"mr":2,"title":"t","state":"queued","added_by":"","added_at":"2025-01-02T03:04:05Z","time_on_train_seconds":0,"attempts":0,"time_on_train":0}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func TestCarReadsBothDurationNames(t *testing.T) {
	tests := []struct {
		name, json string
		on, eta    time.Duration
		noETA      bool
	}{
		{name: "v1 names with units", json: `{"mr":1,"time_on_train_seconds":95,"estimated_merge_seconds":360}`, on: 95 * time.Second, eta: 6 * time.Minute},
		{name: "the names v1 first had", json: `{"mr":1,"time_on_train":95,"estimated_merge":360}`, on: 95 * time.Second, eta: 6 * time.Minute},
		{name: "both: the unit wins", json: `{"mr":1,"time_on_train_seconds":0,"time_on_train":95,"estimated_merge_seconds":60,"estimated_merge":360}`, on: 0, eta: time.Minute},
		{name: "no estimate", json: `{"mr":1,"time_on_train_seconds":5}`, on: 5 * time.Second, noETA: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c api.Car
			if err := json.Unmarshal([]byte(tt.json), &c); err != nil {
				t.Fatal(err)
			}
			if c.MR != 1 || c.TimeOnTrain.Std() != tt.on {
				t.Fatalf("car %+v: want MR 1 on the train %v", c, tt.on)
			}
			if tt.noETA != (c.EstimatedMerge == nil) || (!tt.noETA && c.EstimatedMerge.Std() != tt.eta) {
				t.Fatalf("estimate %v, want %v (none: %v)", c.EstimatedMerge, tt.eta, tt.noETA)
			}
		})
	}
}
