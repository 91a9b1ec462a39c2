package gitops

import (
	"errors"
	"fmt"
)

// ErrMissingCommit means a commit the caller named is not in the mirror:
// typically an MR head that could not be fetched. Match it with errors.Is;
// errors.As with *MissingCommitError gives the SHA.
var ErrMissingCommit = errors.New("commit not found")

// ErrRefNotFound means a ref does not exist, locally (Head) or on the remote
// (fetch of a deleted branch or MR ref).
var ErrRefNotFound = errors.New("ref not found")

// ErrRemoteRejected means the remote refused a push for a reason of its own
// (a protected branch, a pre-receive hook), not because it was not a
// fast-forward. Retrying will not help.
var ErrRemoteRejected = errors.New("push refused by remote")

// ErrNoPushOptions means the remote does not take push options: the push
// was not made. Push again without them.
var ErrNoPushOptions = errors.New("the remote does not support push options")

// ErrInvalidArgument reports a malformed ref, SHA or request.
var ErrInvalidArgument = errors.New("invalid argument")

// MissingCommitError names the commit that is missing.
type MissingCommitError struct {
	SHA string
}

func (e *MissingCommitError) Error() string { return fmt.Sprintf("commit %s not found", e.SHA) }

// Is makes errors.Is(err, ErrMissingCommit) true.
func (e *MissingCommitError) Is(target error) bool { return target == ErrMissingCommit }
