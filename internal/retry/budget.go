package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/internal/ratelimit"
)

// Reserve takes room in a client-side budget for the next attempt of a
// call, as a Policy.Before. Room that would come only after the call's
// deadline gives up at once with ErrGaveUp, as a server's Retry-After
// past it does; what names the budget in the error.
func Reserve(call context.Context, budget ratelimit.Limiter, what string) error {
	err := budget.Reserve(call)
	var spent *ratelimit.Exhausted
	switch {
	case err == nil:
		return nil
	case errors.As(err, &spent) && call.Err() == nil:
		return fmt.Errorf("%w: %s spent until %s, past the call's deadline", ErrGaveUp, what, spent.Free.Format(time.RFC3339))
	}
	return fmt.Errorf("%s: %w", what, err)
}
