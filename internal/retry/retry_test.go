package retry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

var errAnswer = errors.New("answer")

// retryAll retries every error, after at least the answer's Retry-After.
func retryAll(_ error, ans Answer) (time.Duration, bool) { return ans.RetryAfter, true }

func policy() Policy {
	return Policy{Classify: HTTP(true), Timeout: time.Second, Budget: 2 * time.Second, Base: time.Millisecond, Max: 2 * time.Millisecond}
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

func TestFinalAnswersAreNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		ans  Answer
	}{
		{"not found", Answer{Status: 404}},
		{"refused", Answer{Status: 422}},
		{"not implemented", Answer{Status: 501}},
	} {
		calls := 0
		err := policy().Do(context.Background(), answers(&calls, tc.ans))
		if err != errAnswer || calls != 1 {
			t.Errorf("%s: %v after %d calls, want the attempt's error after 1", tc.name, err, calls)
		}
	}
}

func TestThrottledIsRetriedAfterItsWait(t *testing.T) {
	calls := 0
	start := time.Now()
	err := policy().Do(context.Background(), answers(&calls,
		Answer{Status: 403, Throttled: true, RetryAfter: 300 * time.Millisecond}, Answer{Status: 502}))
	if err != nil || calls != 3 {
		t.Fatalf("%v after %d calls", err, calls)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("retried after %v, asked to wait 300ms", took)
	}
}

func TestAttemptsBound(t *testing.T) {
	p := policy()
	p.Attempts = 3
	var retries []Retry
	p.OnRetry = func(r Retry) { retries = append(retries, r) }
	calls := 0
	err := p.Do(context.Background(), answers(&calls, Answer{Status: 500}, Answer{Status: 503}, Answer{Status: 500}, Answer{Status: 500}))
	if !errors.Is(err, ErrGaveUp) || !errors.Is(err, errAnswer) || calls != 3 {
		t.Fatalf("%v after %d calls, want ErrGaveUp after 3", err, calls)
	}
	if len(retries) != 2 || retries[0].Attempt != 1 || retries[1].Answer.Status != 503 || retries[1].Wait <= 0 {
		t.Fatalf("retries %+v, want attempts 1 and 2 told with their answers and waits", retries)
	}
}

func TestWaitPastTheBudgetGivesUpAtOnce(t *testing.T) {
	p := policy()
	p.Budget = time.Second
	told := 0
	p.OnRetry = func(Retry) { told++ }
	calls := 0
	start := time.Now()
	err := p.Do(context.Background(), answers(&calls, Answer{Status: 503, RetryAfter: time.Hour}))
	if !errors.Is(err, ErrGaveUp) || calls != 1 || told != 0 {
		t.Fatalf("%v after %d calls and %d retries, want ErrGaveUp after 1 call", err, calls, told)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("took %v", took)
	}
}

func TestEachAttemptHasATimeout(t *testing.T) {
	p := policy()
	p.Timeout, p.Budget = 20*time.Millisecond, 200*time.Millisecond
	calls := 0
	err := p.Do(context.Background(), func(try context.Context) (Answer, error) {
		calls++
		<-try.Done()
		return Answer{}, try.Err()
	})
	if !errors.Is(err, ErrGaveUp) || !errors.Is(err, context.DeadlineExceeded) || calls < 2 {
		t.Fatalf("%v after %d calls, want ErrGaveUp after several timed out attempts", err, calls)
	}
}

// TestCallerContextIsNotGivingUp: a call cut by its caller's deadline
// fails with it. (A wait that would pass that deadline is not started:
// that is giving up.)
func TestCallerContextIsNotGivingUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	p := policy()
	p.Classify = retryAll
	err := p.Do(ctx, func(try context.Context) (Answer, error) {
		<-try.Done()
		return Answer{}, try.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrGaveUp) {
		t.Fatalf("%v, want the caller's deadline", err)
	}
}

func TestBeforeHoldsEveryAttempt(t *testing.T) {
	held := 0
	p := policy()
	p.Before = func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("Before got a context without the call's deadline")
		}
		held++
		return nil
	}
	calls := 0
	if err := p.Do(context.Background(), answers(&calls, Answer{Status: 500})); err != nil || held != 2 {
		t.Fatalf("%v; Before ran %d times for 2 attempts", err, held)
	}
	budget := errors.New("over budget")
	p.Before = func(context.Context) error { return budget }
	calls = 0
	if err := p.Do(context.Background(), answers(&calls)); err != budget || calls != 0 {
		t.Fatalf("%v after %d calls, want the budget's error and no call", err, calls)
	}
}

func TestNoClassifierRetriesNothing(t *testing.T) {
	calls := 0
	if err := (Policy{}).Do(context.Background(), answers(&calls, Answer{Status: 503})); err != errAnswer || calls != 1 {
		t.Fatalf("%v after %d calls", err, calls)
	}
}

func TestPagesFollowsMore(t *testing.T) {
	var ops []string
	err := Pages(context.Background(), "list", func(_ context.Context, op string, n int) (bool, error) {
		ops = append(ops, op)
		return n < 3, nil
	})
	if err != nil || len(ops) != 3 || ops[2] != "list (page 3)" {
		t.Fatalf("pages %q, %v", ops, err)
	}
	boom := errors.New("boom")
	n := 0
	err = Pages(context.Background(), "list", func(context.Context, string, int) (bool, error) { n++; return true, boom })
	if err != boom || n != 1 {
		t.Fatalf("%v after %d pages, want the page's error after 1", err, n)
	}
	n = 0
	err = Pages(context.Background(), "list", func(context.Context, string, int) (bool, error) { n++; return true, nil })
	if err == nil || n != MaxPages {
		t.Fatalf("endless list: %v after %d pages", err, n)
	}
}

func TestBackoffStaysUnderItsCeiling(t *testing.T) {
	tests := []struct {
		n       int
		ceiling time.Duration
	}{{1, 10 * time.Millisecond}, {3, 40 * time.Millisecond}, {11, time.Second}, {41, time.Second}}
	for _, tt := range tests {
		var top time.Duration
		for range 2000 {
			d := backoff(10*time.Millisecond, time.Second, tt.n)
			if d <= 0 || d > tt.ceiling {
				t.Fatalf("backoff(n=%d) = %v, want in (0, %v]", tt.n, d, tt.ceiling)
			}
			top = max(top, d)
		}
		if top < tt.ceiling/2 {
			t.Errorf("backoff(n=%d) never went past %v of a %v ceiling: not full jitter", tt.n, top, tt.ceiling)
		}
	}
}

// TestAnAttemptCutShortReportsTheAnswerBefore: when the budget ends
// during an attempt, the call reports the last answer it got, not the
// cancellation.
func TestAnAttemptCutShortReportsTheAnswerBefore(t *testing.T) {
	p := policy()
	p.Budget = 100 * time.Millisecond
	calls := 0
	err := p.Do(context.Background(), func(try context.Context) (Answer, error) {
		calls++
		if calls == 1 {
			return Answer{Status: 500}, errAnswer
		}
		<-try.Done()
		return Answer{}, try.Err()
	})
	if !errors.Is(err, ErrGaveUp) || !errors.Is(err, errAnswer) || calls != 2 {
		t.Fatalf("%v after %d calls, want ErrGaveUp with the 500's error", err, calls)
	}
}
