package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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
	if p, err := w.mirror.PushCar(ctx, car, first); err != nil || p != (CarPush{Created: true, Moved: true}) {
		t.Fatalf("push car: %+v, %v; want a new ref", p, err)
	}
	if p, err := w.mirror.PushCar(ctx, car, first); err != nil || p != (CarPush{}) {
		t.Fatalf("push car again: %+v, %v; want it there already", p, err)
	}
	if got := remoteHead(t, w.remote, "refs/heads/"+car); got != first {
		t.Fatalf("remote car = %q, want %s", got, first)
	}
	// A rebuilt car replaces the old one even though it is no fast-forward.
	rebuilt := w.build(t, method(MethodSquash)).Commit
	if p, err := w.mirror.PushCar(ctx, "refs/heads/"+car, rebuilt); err != nil || p != (CarPush{Moved: true}) {
		t.Fatalf("force-push car: %+v, %v; want the ref moved, not created", p, err)
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

// Push options reach a remote that takes them, one per option, as the
// forge's hooks see them; a remote that does not take them refuses the
// push, which is then not made.
func TestPushCarWithOptions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	car := CarRef("", "main", 12)
	commit := w.build(t, nil).Commit
	opts := []string{"ci.variable=TRAINYARD=true", "ci.variable=TRAINYARD_MRS=3,12"}

	if _, err := w.mirror.PushCar(ctx, car, commit, opts...); !errors.Is(err, ErrNoPushOptions) {
		t.Fatalf("push with options to a remote without them: %v, want ErrNoPushOptions", err)
	}
	if got := remoteHead(t, w.remote, "refs/heads/"+car); got != "" {
		t.Fatalf("the refused push made the car branch: %s", got)
	}

	testGit(t, w.remote, "", nil, "config", "receive.advertisePushOptions", "true")
	record := filepath.Join(t.TempDir(), "options")
	hook := "#!/bin/sh\ni=0\nwhile [ $i -lt \"$GIT_PUSH_OPTION_COUNT\" ]; do eval \"echo \\$GIT_PUSH_OPTION_$i\" >> " + record + "; i=$((i+1)); done\n"
	if err := os.WriteFile(filepath.Join(w.remote, "hooks", "post-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := w.mirror.PushCar(ctx, car, commit, opts...); err != nil || p != (CarPush{Created: true, Moved: true}) {
		t.Fatalf("push with options: %+v, %v", p, err)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("the remote's hook saw no options: %v", err)
	}
	if want := strings.Join(opts, "\n") + "\n"; string(got) != want {
		t.Fatalf("options the remote saw:\n%s\nwant:\n%s", got, want)
	}
	if _, err := w.mirror.PushCar(ctx, car, commit, "ci.variable=A=1\nci.skip"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("an option with a line break: %v, want ErrInvalidArgument", err)
	}
}

func TestFastForwardDeletingTakesTheCarBranchesWithTheMove(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	car := w.build(t, nil).Commit
	kept, gone := CarRef("", "main", 12), CarRef("", "main", 13)
	for _, ref := range []string{kept, gone} {
		if _, err := w.mirror.PushCar(ctx, ref, car); err != nil {
			t.Fatalf("push car %s: %v", ref, err)
		}
	}
	// Someone else moves main first: nothing moves, nothing is deleted.
	theirs := commitFiles(t, w.remote, bob, "Hotfix\n", map[string]string{"hotfix.txt": "fix\n"}, w.base)
	setRef(t, w.remote, "refs/heads/main", theirs)
	res, err := w.mirror.FastForwardDeleting(ctx, "main", w.base, car, []string{kept})
	if err != nil || res != (FFResult{Head: theirs, Rejected: true}) {
		t.Fatalf("rejected fast-forward = %+v, %v; want Rejected at %s, nothing deleted", res, err, theirs)
	}
	if got := remoteHead(t, w.remote, "refs/heads/"+kept); got != car {
		t.Fatalf("car branch after a rejected move = %q, want it kept at %s", got, car)
	}

	setRef(t, w.remote, "refs/heads/main", w.base)
	// One of the branches is gone already (deleted before a crash, or
	// never pushed): the move and the other deletion still happen.
	if err := w.mirror.DeleteRemoteBranch(ctx, gone); err != nil {
		t.Fatal(err)
	}
	res, err = w.mirror.FastForwardDeleting(ctx, "main", w.base, car, []string{kept, gone})
	if err != nil || res != (FFResult{Head: car, Deleted: true}) {
		t.Fatalf("fast-forward = %+v, %v; want Head %s and the branches deleted", res, err, car)
	}
	if got := remoteHead(t, w.remote, "refs/heads/main"); got != car {
		t.Fatalf("remote main = %s, want %s", got, car)
	}
	if got := remoteHead(t, w.remote, "refs/heads/"+kept); got != "" {
		t.Fatalf("car branch still at %q after the move", got)
	}
	// Repeated after a crash.
	res, err = w.mirror.FastForwardDeleting(ctx, "main", w.base, car, []string{kept, gone})
	if err != nil || res != (FFResult{Head: car, Done: true, Deleted: true}) {
		t.Errorf("repeated fast-forward = %+v, %v; want Done", res, err)
	}
	if _, err := w.mirror.FastForwardDeleting(ctx, "main", w.base, car, []string{"bad..name"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("a bad branch to delete: err = %v, want ErrInvalidArgument", err)
	}
}

// A remote that refuses the deletions (a protected car namespace), or a
// hook that declines a push deleting a branch (as a forge's protected
// branches do, in words that do not say why), gets the move alone.
func TestFastForwardDeletingMovesAloneWhenTheDeletionsAreRefused(t *testing.T) {
	t.Parallel()
	for name, refuse := range map[string]func(t *testing.T, remote string){
		"deletions denied": func(t *testing.T, remote string) {
			testGit(t, remote, "", nil, "config", "receive.denyDeletes", "true")
		},
		"a hook declines the push": func(t *testing.T, remote string) {
			writeExecutable(t, remote+"/hooks/pre-receive", "#!/bin/sh\n"+
				"while read old new name; do\n"+
				"  case $new in 0000000000000000000000000000000000000000) echo protected >&2; exit 1;; esac\n"+
				"done\n")
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ctx := context.Background()
			car, ref := pushedCar(t, w)
			refuse(t, w.remote)
			res, err := w.mirror.FastForwardDeleting(ctx, "main", w.base, car, []string{ref})
			if err != nil || res != (FFResult{Head: car}) {
				t.Fatalf("fast-forward = %+v, %v; want the move alone, Deleted false", res, err)
			}
			if got := remoteHead(t, w.remote, "refs/heads/main"); got != car {
				t.Errorf("remote main = %s, want %s", got, car)
			}
			if got := remoteHead(t, w.remote, "refs/heads/"+ref); got != car {
				t.Errorf("car branch = %q, want it left at %s", got, car)
			}
		})
	}
}

// A move found made already (repeated after a crash) is not sent, so its
// deletions can fail alone: they are then not reported done.
func TestFastForwardDeletingRepeatedReportsDeletionsThatFailed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	car, ref := pushedCar(t, w)
	if _, err := w.mirror.FastForward(ctx, "main", w.base, car); err != nil {
		t.Fatal(err)
	}
	testGit(t, w.remote, "", nil, "config", "receive.denyDeletes", "true")
	res, err := w.mirror.FastForwardDeleting(ctx, "main", w.base, car, []string{ref})
	if err != nil || res != (FFResult{Head: car, Done: true}) {
		t.Fatalf("repeated fast-forward = %+v, %v; want Done, Deleted false", res, err)
	}
	if got := remoteHead(t, w.remote, "refs/heads/"+ref); got != car {
		t.Errorf("car branch = %q, want it still at %s", got, car)
	}
}

// pushedCar builds a car and pushes it to the car branch of !12, as a
// train does before it fast-forwards.
func pushedCar(t *testing.T, w *world) (car, ref string) {
	t.Helper()
	car, ref = w.build(t, nil).Commit, CarRef("", "main", 12)
	if _, err := w.mirror.PushCar(context.Background(), ref, car); err != nil {
		t.Fatalf("push car %s: %v", ref, err)
	}
	return car, ref
}
