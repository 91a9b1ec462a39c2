package command

import "github.com/trainyard/trainyard/internal/train"

// Quote renders user text as a Markdown code span that shows literally;
// see train.Quote, which the planner's messages use for the same reason.
func Quote(s string) string { return train.Quote(s) }
