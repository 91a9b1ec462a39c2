package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// ErrRulesPending: the forge was still working out whether an MR may merge
// after every read the engine waits for; the caller tries again later.
var ErrRulesPending = errors.New("the forge is still checking the merge rules")

// rulesTries bounds the reads of merge rules the forge is still working
// out; with the doubling wait they span a few seconds.
const rulesTries = 5

// enforcing reports whether the merge rules of a project are checked.
func (e *Engine) enforcing(project string) bool {
	return e.rules != nil && e.cfg.Policy.EnforceRules(project)
}

// readRules reads an MR's merge rules, reading again while the forge says
// it is still checking.
func (e *Engine) readRules(ctx context.Context, project string, iid int64, into string) (forge.Rules, error) {
	wait := e.rulesWait
	for try := 1; ; try++ {
		r, err := e.rules.MergeRules(ctx, project, iid, into)
		if err != nil {
			return forge.Rules{}, fmt.Errorf("read the merge rules of !%d of %s: %w", iid, project, err)
		}
		if !r.Pending {
			return r, nil
		}
		if try == rulesTries {
			return forge.Rules{}, fmt.Errorf("!%d of %s: %w", iid, project, ErrRulesPending)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return forge.Rules{}, fmt.Errorf("read the merge rules of !%d of %s: %w", iid, project, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
}

func msgRulesRefused(branch string, r forge.Rules) string {
	return fmt.Sprintf("This merge request cannot join the merge train for %s yet: %s. Add it again once the merge rules allow it.", train.Quote(branch), r.Sentence())
}
