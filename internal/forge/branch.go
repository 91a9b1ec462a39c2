package forge

import "context"

// branchKey carries the target branch whose train a call serves.
type branchKey struct{}

// ForBranch marks ctx as serving the train of a target branch. Settings
// a repository keeps per branch (on GitHub, the required checks its
// settings file names on that branch) follow it; a call without one
// gets the service's configuration alone.
func ForBranch(ctx context.Context, branch string) context.Context {
	return context.WithValue(ctx, branchKey{}, branch)
}

// BranchOf returns the branch ForBranch set on ctx.
func BranchOf(ctx context.Context) (string, bool) {
	b, ok := ctx.Value(branchKey{}).(string)
	return b, ok && b != ""
}
