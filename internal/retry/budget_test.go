package retry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/ratelimit"
)

func TestReserve(t *testing.T) {
	budget := ratelimit.NewLocal(ratelimit.Window{N: 1, Per: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Reserve(ctx, budget, "write budget"); err != nil {
		t.Fatal(err)
	}
	// The room comes after the deadline: give up now, not at the deadline.
	err := Reserve(ctx, budget, "write budget")
	if !errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "write budget spent until") || ctx.Err() != nil {
		t.Fatalf("spent: %v", err)
	}
	// A caller that ends its call is told so.
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	if err := Reserve(cancelled, budget, "write budget"); !errors.Is(err, context.Canceled) || errors.Is(err, ErrGaveUp) {
		t.Fatalf("cancelled: %v", err)
	}
	// Any other failure is the budget's, named.
	broken := errors.New("redis down")
	if err := Reserve(ctx, failing{broken}, "write budget"); !errors.Is(err, broken) || !strings.HasPrefix(err.Error(), "write budget: ") {
		t.Fatalf("broken: %v", err)
	}
}

type failing struct{ err error }

func (f failing) Reserve(context.Context) error { return f.err }
