package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// runner executes the git binary against one bare repository. It owns the
// environment every git process sees, so that no user, system or inherited
// GIT_* setting can change what a command does or where its output goes.
type runner struct {
	git     string   // path of the git binary
	gitDir  string   // the bare repository
	baseEnv []string // environment shared by every command

	mu      sync.Mutex
	secrets []string // strings scrubbed from any error text

	// ran, when set, is told the arguments of every git process started
	// (tests count them).
	ran func(args []string)
}

// maxSecrets bounds the scrub list of a long-lived mirror whose token is
// renewed every hour: tokens older than that have expired anyway.
const maxSecrets = 16

// waitDelay bounds how long a finished or killed git may keep its output
// pipes open through a child process.
const waitDelay = 5 * time.Second

// call describes one git invocation.
type call struct {
	args   []string
	stdin  io.Reader
	env    []string // extra variables, e.g. author and committer identity
	config []configPair
	// okCodes lists exit codes, besides 0, that the caller interprets itself
	// (merge-tree exits 1 on conflicts, push exits 1 on rejection).
	okCodes []int
	// maxStdout, when set, stops git once it printed more bytes, with
	// errOutputTooLarge: output an MR's contents decide can be huge.
	maxStdout int
}

// errOutputTooLarge: git printed more than its call's maxStdout.
var errOutputTooLarge = errors.New("git printed more than allowed")

// cappedBuffer takes at most max bytes; a write past them fails, which
// closes git's stdout and ends it. The buffer is a field, not embedded:
// its ReadFrom would let io.Copy past Write.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		b.over = true
		return 0, errOutputTooLarge
	}
	return b.buf.Write(p)
}

// configPair is one configuration setting passed through the environment,
// never through argv, where other users of the machine could read it.
type configPair struct{ key, value string }

// result is what a finished git process produced.
type result struct {
	stdout []byte
	stderr []byte
	code   int
}

// gitError is a failed git command, with its stderr already scrubbed.
type gitError struct {
	args   []string
	code   int
	stderr string
	err    error
}

func (e *gitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if msg == "" && e.err != nil {
		msg = e.err.Error()
	}
	return fmt.Sprintf("git %s: exit %d: %s", strings.Join(e.args, " "), e.code, msg)
}

func (e *gitError) Unwrap() error { return e.err }

// inherited reports the only variables of our own environment that git may
// see: locating programs, temporary files, proxies and CA bundles. HOME is
// not among them: a ~/.netrc there would add credentials of its own.
func inherited(key string) bool {
	switch strings.ToUpper(key) {
	case "PATH", "TMPDIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR":
		return true
	}
	return false
}

func newRunner(git, gitDir string) *runner {
	env := []string{
		"GIT_DIR=" + gitDir,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"HOME=" + gitDir,
		"GIT_ASKPASS=",
		"SSH_ASKPASS=",
		"GCM_INTERACTIVE=never",
		"LC_ALL=C",
		"LANGUAGE=C",
	}
	for _, kv := range os.Environ() {
		if key, _, ok := strings.Cut(kv, "="); ok && inherited(key) {
			env = append(env, kv)
		}
	}
	return &runner{git: git, gitDir: gitDir, baseEnv: env}
}

// addSecrets adds strings to scrub from every later error text.
func (r *runner) addSecrets(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, nonEmpty(secrets)...)
	if len(r.secrets) > maxSecrets {
		r.secrets = r.secrets[len(r.secrets)-maxSecrets:]
	}
}

// run executes git and returns its output. Exit codes other than 0 and
// c.okCodes become a *gitError; a cancelled context wins over the exit code.
func (r *runner) run(ctx context.Context, c call) (result, error) {
	if r.ran != nil {
		r.ran(c.args)
	}
	cmd := exec.CommandContext(ctx, r.git, c.args...)
	cmd.Dir = r.gitDir
	cmd.Env = r.environ(c)
	cmd.Stdin = c.stdin
	killGroupOnCancel(cmd)
	// Helpers that inherited our pipes must not hold Wait forever.
	cmd.WaitDelay = waitDelay
	stdout := &cappedBuffer{max: c.maxStdout}
	if c.maxStdout <= 0 {
		stdout.max = math.MaxInt
	}
	var stderr bytes.Buffer
	cmd.Stdout = stdout
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	res := result{stdout: stdout.buf.Bytes(), stderr: []byte(r.scrub(stderr.String())), code: exitCode(runErr)}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return res, fmt.Errorf("git %s: %w", r.scrub(strings.Join(c.args, " ")), ctxErr)
	}
	if stdout.over {
		return res, fmt.Errorf("git %s: %w (%d bytes)", r.scrub(strings.Join(c.args, " ")), errOutputTooLarge, c.maxStdout)
	}
	if runErr == nil || (res.code > 0 && slices.Contains(c.okCodes, res.code)) {
		return res, nil
	}
	return res, r.failure(c.args, res, runErr)
}

// failure describes a failed git process without any secret in it.
func (r *runner) failure(args []string, res result, runErr error) *gitError {
	var exitErr *exec.ExitError
	if errors.As(runErr, &exitErr) {
		runErr = nil // the exit code and stderr say it all
	} else {
		runErr = errors.New(r.scrub(runErr.Error()))
	}
	scrubbed := make([]string, len(args))
	for i, a := range args {
		scrubbed[i] = r.scrub(a)
	}
	return &gitError{args: scrubbed, code: res.code, stderr: string(res.stderr), err: runErr}
}

// output runs git and returns its trimmed stdout.
func (r *runner) output(ctx context.Context, args ...string) (string, error) {
	res, err := r.run(ctx, call{args: args})
	return strings.TrimSpace(string(res.stdout)), err
}

func (r *runner) environ(c call) []string {
	env := make([]string, 0, len(r.baseEnv)+len(c.env)+1+2*len(c.config))
	env = append(env, r.baseEnv...)
	env = append(env, c.env...)
	if len(c.config) > 0 {
		env = append(env, fmt.Sprintf("GIT_CONFIG_COUNT=%d", len(c.config)))
		for i, p := range c.config {
			env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, p.key), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, p.value))
		}
	}
	return env
}

// scrub removes every secret from s, so that no error or log line can carry
// the token even if a remote or git itself echoes it.
func (r *runner) scrub(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "[REDACTED]")
	}
	return s
}

// scrubbedError is an error whose text had a secret removed; errors.Is and
// errors.As still see the original chain.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubErr replaces *errp by an error with the same chain and a scrubbed
// text. Exported methods defer it, since a ref name echoed in any layer's
// message could carry a secret.
func (r *runner) scrubErr(errp *error) {
	if *errp == nil {
		return
	}
	if msg := r.scrub((*errp).Error()); msg != (*errp).Error() {
		*errp = &scrubbedError{msg: msg, err: *errp}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	return -1
}

func nonEmpty(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
