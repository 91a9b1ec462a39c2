package retry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/forge"
)

var errAnswer = errors.New("answer")

func policy() Policy {
	return Policy{Forge: "test", Timeout: time.Second, MaxWait: 2 * time.Second, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond}
}

// answers returns an attempt that gives the answers in order, then
// succeeds, and counts its calls.
func answers(calls *int, list ...Answer) Attempt {
	return func(context.Context) (Answer, error) {
		*calls++
		if *calls <= len(list) {
			return list[*calls-1], errAnswer
		}
		return Answer{Status: http.StatusOK}, nil
	}
}

func TestFinalAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ans   Answer
		want  error
		calls int
	}{
		{"not found", Answer{Status: 404}, forge.ErrNotFound, 1},
		{"gone", Answer{Status: 410}, forge.ErrNotFound, 1},
		{"refused", Answer{Status: 422}, forge.ErrRejected, 1},
		{"forbidden", Answer{Status: 403}, forge.ErrRejected, 1},
		{"not implemented", Answer{Status: 501}, errAnswer, 1},
	} {
		calls := 0
		err := policy().Do(context.Background(), "op", true, answers(&calls, tc.ans))
		if !errors.Is(err, tc.want) || calls != tc.calls || err.Error()[:4] != "op: " {
			t.Errorf("%s: %v after %d calls, want %v after %d", tc.name, err, calls, tc.want, tc.calls)
		}
	}
}

func TestThrottledForbiddenIsRetriedAfterItsWait(t *testing.T) {
	calls := 0
	start := time.Now()
	err := policy().Do(context.Background(), "op", false, answers(&calls,
		Answer{Status: 403, Throttled: true, RetryAfter: 300 * time.Millisecond}, Answer{Status: 502}))
	if err != nil || calls != 3 {
		t.Fatalf("%v after %d calls", err, calls)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("retried after %v, asked to wait 300ms", took)
	}
}

func TestBeforeHoldsEveryAttempt(t *testing.T) {
	held := 0
	p := policy()
	p.Before = func(ctx context.Context, op string) error {
		if _, ok := ctx.Deadline(); !ok || op != "op" {
			t.Errorf("Before got op %q without the call's deadline", op)
		}
		held++
		return nil
	}
	calls := 0
	if err := p.Do(context.Background(), "op", true, answers(&calls, Answer{Status: 500})); err != nil || held != 2 {
		t.Fatalf("%v; Before ran %d times for 2 attempts", err, held)
	}
	budget := errors.New("over budget")
	p.Before = func(context.Context, string) error { return budget }
	calls = 0
	if err := p.Do(context.Background(), "op", true, answers(&calls)); !errors.Is(err, budget) || calls != 0 {
		t.Fatalf("%v after %d calls, want the budget's error and no call", err, calls)
	}
}

func TestPagesFollowsNext(t *testing.T) {
	var seen []int
	err := policy().Pages(context.Background(), "list", func(_ context.Context, n int) (Answer, int, error) {
		seen = append(seen, n)
		if n == 2 && len(seen) == 2 {
			return Answer{Status: 503}, 0, errAnswer // retried on its own
		}
		if n < 3 {
			return Answer{Status: 200}, n + 1, nil
		}
		return Answer{Status: 200}, 0, nil
	})
	if err != nil || len(seen) != 4 || seen[3] != 3 {
		t.Fatalf("pages %v, %v", seen, err)
	}
}
