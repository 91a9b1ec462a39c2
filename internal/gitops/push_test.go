package gitops

import (
	"context"
	"errors"
	"testing"
)

func TestCarRef(t *testing.T) {
	t.Parallel()
	if got := CarRef("", "main", 12); got != "trainyard/main/12" {
		t.Errorf("CarRef default = %q", got)
	}
	if got := CarRef("mt", "release/1.x", 7); got != "mt/release/1.x/7" {
		t.Errorf("CarRef custom = %q", got)
	}
}

func TestPushCarAndDelete(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	car := CarRef("", "main", 12)
	first := w.build(t, nil).Commit
	if created, err := w.mirror.PushCar(ctx, car, first); err != nil || !created {
		t.Fatalf("push car: created %v, %v; want a new ref", created, err)
	}
	if created, err := w.mirror.PushCar(ctx, car, first); err != nil || created {
		t.Fatalf("push car again: created %v, %v; want it there already", created, err)
	}
	if got := remoteHead(t, w.remote, "refs/heads/"+car); got != first {
		t.Fatalf("remote car = %q, want %s", got, first)
	}
	// A rebuilt car replaces the old one even though it is no fast-forward.
	rebuilt := w.build(t, method(MethodSquash)).Commit
	if created, err := w.mirror.PushCar(ctx, "refs/heads/"+car, rebuilt); err != nil || created {
		t.Fatalf("force-push car: created %v, %v; want the ref moved, not created", created, err)
	}
	if got := remoteHead(t, w.remote, "refs/heads/"+car); got != rebuilt {
		t.Fatalf("remote car = %q, want %s", got, rebuilt)
	}
	for i := 0; i < 2; i++ { // the second delete finds nothing to delete
		if err := w.mirror.DeleteRemoteBranch(ctx, car); err != nil {
			t.Fatalf("delete car (attempt %d): %v", i+1, err)
		}
		if got := remoteHead(t, w.remote, "refs/heads/"+car); got != "" {
			t.Fatalf("remote car still at %q after delete", got)
		}
	}
}

func TestPushCarRejectsBadInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	for _, tc := range []struct{ ref, sha string }{
		{"trainyard/main/12", "HEAD"},
		{"-f", w.base},
		{"bad..name", w.base},
		{"a b", w.base},
	} {
		if _, err := w.mirror.PushCar(ctx, tc.ref, tc.sha); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("PushCar(%q, %q) = %v, want ErrInvalidArgument", tc.ref, tc.sha, err)
		}
	}
}

func TestFastForward(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	car := w.build(t, nil).Commit
	res, err := w.mirror.FastForward(ctx, "main", w.base, car)
	if err != nil || res != (FFResult{Head: car}) {
		t.Fatalf("fast-forward = %+v, %v; want Head %s", res, err, car)
	}
	if got := remoteHead(t, w.remote, "refs/heads/main"); got != car {
		t.Fatalf("remote main = %s, want %s", got, car)
	}
	if got, err := w.mirror.Head(ctx, LocalBranchRef("main")); err != nil || got != car {
		t.Errorf("local copy of main = %s, %v; want %s", got, err, car)
	}
	// Repeated after a crash: nothing to do.
	res, err = w.mirror.FastForward(ctx, "main", w.base, car)
	if err != nil || res != (FFResult{Head: car, Done: true}) {
		t.Errorf("repeated fast-forward = %+v, %v; want Done at %s", res, err, car)
	}
}

func TestFastForwardRejectedWhenSomeonePushedFirst(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	car := w.build(t, nil).Commit
	// Someone else moves main; the mirror has never seen that commit.
	theirs := commitFiles(t, w.remote, bob, "Hotfix\n", map[string]string{"hotfix.txt": "fix\n"}, w.base)
	setRef(t, w.remote, "refs/heads/main", theirs)
	res, err := w.mirror.FastForward(ctx, "main", w.base, car)
	if err != nil || res != (FFResult{Head: theirs, Rejected: true}) {
		t.Fatalf("fast-forward = %+v, %v; want Rejected with head %s", res, err, theirs)
	}
	if got := remoteHead(t, w.remote, "refs/heads/main"); got != theirs {
		t.Errorf("remote main = %s, want it left at %s", got, theirs)
	}
	// Now the mirror has that commit: the remote answers non-fast-forward
	// rather than fetch-first, with the same outcome.
	res, err = w.mirror.FastForward(ctx, "main", w.base, car)
	if err != nil || res != (FFResult{Head: theirs, Rejected: true}) {
		t.Fatalf("second fast-forward = %+v, %v; want Rejected with head %s", res, err, theirs)
	}
}

func TestFastForwardRemoteRejected(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	testGit(t, w.remote, "", nil, "config", "receive.denyDeletes", "true")
	testGit(t, w.remote, "", nil, "config", "receive.denyCurrentBranch", "refuse")
	// A hook that declines every update stands in for a protected branch.
	hook := w.remote + "/hooks/pre-receive"
	writeExecutable(t, hook, "#!/bin/sh\necho protected >&2\nexit 1\n")
	car := w.build(t, nil).Commit
	_, err := w.mirror.FastForward(ctx, "main", w.base, car)
	if !errors.Is(err, ErrRemoteRejected) {
		t.Errorf("fast-forward to a protected branch: err = %v, want ErrRemoteRejected", err)
	}
}
