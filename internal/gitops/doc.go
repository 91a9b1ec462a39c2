// Package gitops builds a train's speculative commits in a bare mirror of the
// project, with the git binary and never a work tree.
//
// Build merges an MR onto a base with git merge-tree --write-tree and writes
// the commit object itself; the result depends only on the request, so a
// build repeated after a crash yields the same SHA. PushCar publishes a car
// for CI; FastForward moves the target branch with a plain push, so the
// remote accepts nothing but a fast-forward and a race with another pusher
// comes back as a Rejected result.
//
// The bot token never touches disk or argv: git reads it from
// GIT_CONFIG_* environment variables as an http.extraHeader, and every error
// text is scrubbed of it. A token source (a GitHub App's installation
// token, which expires within the hour) is asked before every fetch and
// push. User and system git configuration is ignored.
package gitops
