package retry

import (
	"context"
	"fmt"
)

// MaxPages stops a list that never ends; 100 pages of 100 is far beyond
// any merge request's notes or any commit's checks.
const MaxPages = 100

// Page fetches page n (from 1) of a list, with retries of its own, under
// op, which names the page; more is false after the last page, or when
// the caller has read enough.
type Page func(ctx context.Context, op string, n int) (more bool, err error)

// Pages fetches page 1, 2, ... of the list op names until page says
// there is no more.
func Pages(ctx context.Context, op string, page Page) error {
	for n := 1; ; n++ {
		more, err := page(ctx, fmt.Sprintf("%s (page %d)", op, n), n)
		if err != nil || !more {
			return err
		}
		if n == MaxPages {
			return fmt.Errorf("%s: more than %d pages", op, MaxPages)
		}
	}
}
