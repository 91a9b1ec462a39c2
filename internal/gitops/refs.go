package gitops

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultCarPrefix is the branch namespace of car refs on the remote.
const DefaultCarPrefix = "trainyard"

// Local ref namespaces. Remote branches and MR refs land in separate trees
// so that no fetched name can overwrite another.
const (
	remoteBranchNS = "refs/remotes/" + remoteName + "/"
	mrNS           = "refs/trainyard/mr/"
)

// CarRef names the remote branch of a car: CarRef("", "main", 12) is
// "trainyard/main/12". An empty prefix means DefaultCarPrefix.
func CarRef(prefix, target string, mr int64) string {
	return defaultString(prefix, DefaultCarPrefix) + "/" + target + "/" + strconv.FormatInt(mr, 10)
}

// LocalBranchRef is where FetchBranch stores the remote branch.
func LocalBranchRef(branch string) string { return remoteBranchNS + branch }

// LocalMRRef is where FetchMR stores a remote MR ref such as
// "refs/merge-requests/12/head" or "refs/pull/12/head".
func LocalMRRef(ref string) string { return mrNS + strings.TrimPrefix(ref, "refs/") }

// checkBranch rejects names git would refuse or could read as an option.
func checkBranch(branch string) error {
	if err := checkRefName(branch); err != nil {
		return fmt.Errorf("branch %q: %w", branch, err)
	}
	return nil
}

// checkFullRef is checkBranch for a full "refs/..." name.
func checkFullRef(ref string) error {
	if !strings.HasPrefix(ref, "refs/") {
		return fmt.Errorf("ref %q: %w: must start with refs/", ref, ErrInvalidArgument)
	}
	if err := checkRefName(ref); err != nil {
		return fmt.Errorf("ref %q: %w", ref, err)
	}
	return nil
}

// checkRefName applies the rules of git check-ref-format without a process.
func checkRefName(name string) error {
	bad := name == "" || name == "@" || strings.HasPrefix(name, "-") ||
		strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") ||
		strings.HasSuffix(name, ".") || strings.Contains(name, "..") ||
		strings.Contains(name, "//") || strings.Contains(name, "@{") ||
		strings.ContainsAny(name, " ~^:?*[\\\x7f")
	for _, c := range name {
		bad = bad || c < 0x20
	}
	for _, comp := range strings.Split(name, "/") {
		bad = bad || strings.HasPrefix(comp, ".") || strings.HasSuffix(comp, ".lock")
	}
	if bad {
		return fmt.Errorf("%w: not a valid ref name", ErrInvalidArgument)
	}
	return nil
}

// checkSHA accepts full SHA-1 or SHA-256 object names only, so that a
// request can never smuggle an option or a revision expression into argv.
func checkSHA(sha string) error {
	if len(sha) != 40 && len(sha) != 64 {
		return fmt.Errorf("%w: %q is not a full commit SHA", ErrInvalidArgument, sha)
	}
	for _, c := range sha {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("%w: %q is not a full commit SHA", ErrInvalidArgument, sha)
		}
	}
	return nil
}
