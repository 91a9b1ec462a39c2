// Package forgetest holds checks that the forge clients' tests share:
// the same behaviour asked of GitLab's client and GitHub's, against
// projects the fake forge sets up alike.
package forgetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/forge"
)

// Stacks is a client that finds and lists a project's open MRs.
type Stacks interface {
	forge.StackReader
	forge.OpenLister
}

// CheckOpenMRs checks c against project as the clients' stack tests set
// it up: MRs 2 to 5 open (one of them from a fork), the most recently
// updated first, and 3 being third, read as want; no open MR from the
// branches old (its MR closed), evil (a fork's) or nothing; and
// acme/nope missing.
func CheckOpenMRs(t testing.TB, c Stacks, project string, third forge.MR) {
	t.Helper()
	ctx := context.Background()
	// Listed for completing an add: the open ones, a fork's too, the
	// most recently updated first, as many as asked for.
	list, err := c.OpenMRs(ctx, project, 10)
	var iids []int64
	for _, m := range list {
		iids = append(iids, m.IID)
	}
	if err != nil || !slices.Equal(iids, []int64{5, 4, 3, 2}) || list[2] != third {
		t.Fatalf("OpenMRs = %v, %v (%+v); want 5 4 3 2, the third %+v", iids, err, list, third)
	}
	if list, err := c.OpenMRs(ctx, project, 2); err != nil || len(list) != 2 || list[0].IID != 5 || list[1].IID != 4 {
		t.Fatalf("OpenMRs, 2 = %+v, %v", list, err)
	}
	for _, branch := range []string{"old", "evil", "nothing"} {
		if got, ok, err := c.OpenMRFromBranch(ctx, project, branch); err != nil || ok || got != (forge.MR{}) {
			t.Errorf("OpenMRFromBranch(%s) = %+v, %v, %v; want none", branch, got, ok, err)
		}
	}
	_, _, err = c.OpenMRFromBranch(ctx, "acme/nope", "feature")
	if !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "branch feature of acme/nope") {
		t.Fatalf("missing project: %v", err)
	}
}
