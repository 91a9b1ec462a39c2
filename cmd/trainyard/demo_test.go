package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a command's output, read while the command writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitPrinted waits until out holds want, failing if the command ends
// first.
func waitPrinted(t *testing.T, out *lockedBuffer, want string, ended <-chan error) string {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		if s := out.String(); strings.Contains(s, want) {
			return s
		}
		select {
		case err := <-ended:
			t.Fatalf("the demo ended (%v) before printing %q:\n%s", err, want, out.String())
		case <-deadline:
			t.Fatalf("no %q in a minute:\n%s", want, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// shellWords splits a command line as a shell would, for the lines the
// demo prints: words apart by spaces, single quotes keeping theirs.
func shellWords(line string) []string {
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
			}
			inWord = false
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// demo --serve prints how to drive the system by hand, and what it
// prints works: the exports and every command, run as printed, open
// merge requests, put them on the train and read it back; Ctrl-C (the
// context) then ends the demo without an error.
func TestDemoServePrintsCommandsThatWork(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const token = "the-demo-api-token-0123"
	out := &lockedBuffer{}
	root := newRootCommand(out, io.Discard)
	root.SetArgs([]string{"demo", "--serve", "--listen", "127.0.0.1:0", "--token", token, "--mrs", "2",
		"--fail-rate", "0", "--conflict-rate", "0", "--ci-duration", "50ms"})
	ended := make(chan error, 1)
	go func() { ended <- root.ExecuteContext(ctx) }()

	printed := waitPrinted(t, out, "What the train does goes on below.", ended)
	if !strings.Contains(printed, "\n  API token      "+token+"\n") {
		t.Errorf("the demo does not print the API token it was given:\n%s", printed)
	}
	var commands [][]string
	exports := 0
	for _, l := range strings.Split(printed[strings.Index(printed, "Drive them"):], "\n")[1:] {
		words := shellWords(strings.TrimSpace(l))
		switch {
		case len(words) == 0:
		case words[0] == "export":
			for _, w := range words[1:] {
				k, v, _ := strings.Cut(w, "=")
				t.Setenv(k, v)
				exports++
			}
		case words[0] == "trainyard":
			commands = append(commands, words[1:])
		}
	}
	if exports != 4 || len(commands) < 6 {
		t.Fatalf("%d variables exported and %d commands printed:\n%s", exports, len(commands), printed)
	}
	for _, args := range commands {
		var stdout bytes.Buffer
		cmd := newRootCommand(&stdout, io.Discard)
		cmd.SetArgs(args)
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Fatalf("trainyard %s: %v\n%s", strings.Join(args, " "), err, stdout.String())
		}
	}
	// The MR opened and commented on merges; the broken one added
	// through the API is evicted.
	waitPrinted(t, out, ", merging !3\n", ended)
	waitPrinted(t, out, "!4 leaves the train: pipeline #", ended)

	cancel()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("demo --serve ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo --serve did not stop within 30s of its context ending")
	}
	if s := out.String(); strings.Contains(s, "\x1b") {
		t.Errorf("output to a non-terminal holds terminal control sequences:\n%q", s)
	}
}

func TestDemoRefusesBadServeSettings(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", addr}, "demo: listen on " + addr + ": the address is already in use: stop what listens there, " +
			"or choose another address with --listen (127.0.0.1:0 takes any free port)"},
		{[]string{"--token", "too-short"}, "--token: want at least 16 characters, got 9"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var stdout bytes.Buffer
		root := newRootCommand(&stdout, io.Discard)
		root.SetArgs(append([]string{"demo", "--serve", "--mrs", "1"}, tc.args...))
		err := root.ExecuteContext(ctx)
		cancel()
		if err == nil || err.Error() != tc.want {
			t.Errorf("demo --serve %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
