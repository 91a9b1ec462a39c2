package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/train"
)

func TestDemoMergesTheGoodAndEvictsTheRest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := Defaults()
	o.CIDuration = 50 * time.Millisecond
	var out bytes.Buffer
	s, err := Run(ctx, o, &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	var broken, conflicting int
	for _, m := range s.MRs {
		switch {
		case m.Broken:
			broken++
			if m.State != train.StateEvicted || !strings.Contains(m.Reason, "failed") {
				t.Errorf("broken !%d: %s %q, want evicted for a failed pipeline", m.MR, m.State, m.Reason)
			}
		case m.Conflicting:
			conflicting++
			if m.State != train.StateEvicted || !strings.Contains(m.Reason, "conflicting paths: VERSION") {
				t.Errorf("conflicting !%d: %s %q, want evicted for a conflict in VERSION", m.MR, m.State, m.Reason)
			}
		default:
			if m.State != train.StateMerged {
				t.Errorf("!%d: %s %q, want merged", m.MR, m.State, m.Reason)
			}
		}
	}
	if broken == 0 || conflicting == 0 {
		t.Fatalf("the default draw has %d broken and %d conflicting MRs; it should show both", broken, conflicting)
	}
	if s.Merged != len(s.MRs)-broken-conflicting || s.Evicted != broken+conflicting {
		t.Errorf("summary counts %d merged %d evicted", s.Merged, s.Evicted)
	}
	for _, want := range []string{"joins the train", "merged speculatively", "main moves", "leaves the train"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
