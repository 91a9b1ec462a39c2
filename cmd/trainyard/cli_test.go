package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/trainyard/trainyard/internal/api/apitest"
	"github.com/trainyard/trainyard/internal/buildinfo"
)

// TestMain keeps the tests from reading the client config of whoever runs
// them: a context there would add a token or a server.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trainyard-cli")
	if err != nil {
		panic(err)
	}
	os.Setenv("TRAINYARD_CLIENT_CONFIG", filepath.Join(dir, "absent.yaml"))
	for _, k := range []string{"TRAINYARD_CONTEXT", "TRAINYARD_SERVER", "TRAINYARD_TOKEN"} {
		os.Unsetenv(k)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes trainyard in-process and returns stdout and the error.
func run(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	root := newRootCommand(&stdout, &stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return stdout.String(), err
}

// closedURL is an address nothing listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestExitCodes(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	e.MR(1, false)
	draft := e.MR(2, true)
	tok := []string{"--server", e.URL, "--token", apitest.Token}
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"done", append([]string{"train", "list"}, tok...), exitOK, ""},
		{"unknown subcommand", []string{"train", "lst"}, exitUsage, `unknown command "lst" for "trainyard train"; did you mean "list"? (see 'trainyard train --help')`},
		{"unknown command at the root", []string{"srve"}, exitUsage, `unknown command "srve" for "trainyard"; did you mean "serve"? (see 'trainyard --help')`},
		{"unknown command two levels down", []string{"events", "dead", "requeu"}, exitUsage, `unknown command "requeu" for "trainyard events dead"; did you mean "requeue"? (see 'trainyard events dead --help')`},
		{"unknown command with no likeness", []string{"context", "zzzzzz"}, exitUsage, `unknown command "zzzzzz" for "trainyard context" (see 'trainyard context --help')`},
		{"help for a command that is not there", []string{"help", "train", "lst"}, exitUsage, `unknown command "lst" for "trainyard train"; did you mean "list"? (see 'trainyard train --help')`},
		{"completion for a shell that is not there", []string{"completion", "bsh"}, exitUsage, `unknown command "bsh" for "trainyard completion"; did you mean "bash" or "fish" or "zsh"? (see 'trainyard completion --help')`},
		{"missing argument", []string{"train", "show", "demo/app"}, exitUsage, "missing BRANCH: usage is trainyard train show PROJECT BRANCH"},
		{"missing arguments", []string{"train", "add"}, exitUsage, "missing PROJECT and MR: usage is trainyard train add PROJECT MR"},
		{"extra argument", []string{"train", "show", "a", "b", "c"}, exitUsage, `unexpected argument "c": usage is trainyard train show PROJECT BRANCH`},
		{"unknown flag", []string{"train", "list", "--bogus"}, exitUsage, "unknown flag: --bogus (see 'trainyard train list --help')"},
		{"bad output format", []string{"sim", "-o", "xml"}, exitUsage, `-o "xml": want table, json or yaml`},
		{"bad MR", append([]string{"train", "add", "group/app", "x1"}, tok...), exitUsage, `merge request "x1": want a number such as 12, !12 or #12`},
		{"not found", append([]string{"train", "show", "group/app", "develop"}, tok...), exitNotFound, "train develop of group/app on gitlab not found (HTTP 404)"},
		{"no token", []string{"train", "add", "group/app", "1", "--server", e.URL}, exitAuth, "missing bearer token (Authorization: Bearer <token>) (HTTP 401)"},
		{"wrong token", []string{"train", "pause", "group/app", "main", "--server", e.URL, "--token", "nope"}, exitAuth, "invalid token (HTTP 401)"},
		{"freeze without a reason", append([]string{"train", "freeze", "group/app", "main"}, tok...), exitUsage,
			`--reason: required; say why the train is frozen, like --reason "release 2.0 is being cut"`},
		{"freeze with a bad reason", append([]string{"train", "freeze", "group/app", "main", "--reason", "a\x1bb"}, tok...), exitUsage,
			"--reason: want text without control or formatting characters"},
		{"freeze with a long reason", append([]string{"train", "freeze", "group/app", "main", "--reason", strings.Repeat("r", 201)}, tok...), exitUsage,
			"--reason: want at most 200 characters, got 201"},
		{"bad priority", append([]string{"train", "add", "group/app", "1", "--priority", "asap"}, tok...), exitUsage,
			`--priority "asap": want normal, urgent or high`},
		{"bad method", append([]string{"train", "retry", "group/app", "1", "--method", "yolo"}, tok...), exitUsage,
			`--method "yolo": want merge, squash or rebase`},
		{"bad user", append([]string{"train", "pause", "group/app", "main", "--user", "a b"}, tok...), exitUsage,
			`--user: want a username of letters, digits, '.', '_' and '-', got "a b"`},
		{"bad branch", append([]string{"train", "add", "group/app", "1", "--branch", "a\tb"}, tok...), exitUsage,
			`--branch "a\tb": want a branch name`},
		{"history limit too large", append([]string{"train", "history", "group/app", "main", "--limit", "1000"}, tok...), exitUsage,
			"--limit 1000: want a number from 1 to 500"},
		{"history limit zero", append([]string{"train", "history", "group/app", "main", "--limit", "0"}, tok...), exitUsage,
			"--limit 0: want a number from 1 to 500"},
		{"dead letter limit too large", append([]string{"events", "dead", "--limit", "1001"}, tok...), exitUsage,
			"--limit 1001: want a number from 1 to 1000"},
		{"unknown forge", append([]string{"train", "show", "group/app", "main", "--forge", "gitlub"}, tok...), exitUsage,
			`--forge "gitlub": want gitlab or github`},
		{"two marks on an MR", append([]string{"train", "add", "group/app", "!!1"}, tok...), exitUsage,
			`merge request "!!1": want a number such as 12, !12 or #12`},
		{"demo on an unknown forge", []string{"demo", "--forge", "bitbucket"}, exitUsage, `--forge "bitbucket": want gitlab or github`},
		{"demo with a short token", []string{"demo", "--serve", "--token", "short"}, exitUsage, "--token: want at least 16 characters, got 5"},
		{"demo with a negative CI duration", []string{"demo", "--ci-duration", "-1s"}, exitUsage, "--ci-duration -1s: want 0s or more"},
		{"demo with a rate above 1", []string{"demo", "--flake-rate", "1.5"}, exitUsage, "--flake-rate 1.5: want a fraction from 0 to 1"},
		{"demo with no parallelism", []string{"demo", "--max-parallel", "0"}, exitUsage, "--max-parallel 0: want 1 or more"},
		{"freeze of no train", append([]string{"train", "freeze", "group/app", "develop", "--reason", "rc"}, tok...), exitNotFound,
			"train develop of group/app on gitlab not found (HTTP 404)"},
		{"drain with a wrong token", []string{"train", "drain", "group/app", "main", "--server", e.URL, "--token", "nope"}, exitAuth, "invalid token (HTTP 401)"},
		{"refused", append([]string{"train", "add", "group/app", fmt.Sprint(draft)}, tok...), exitFailed, ""},
		{"unreachable", []string{"train", "list", "--server", closedURL(t)}, exitUnreachable, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := run(e.Ctx, c.args...)
			if got := exitCode(err); got != c.code {
				t.Fatalf("trainyard %v: exit %d (%v), want %d", c.args, got, err, c.code)
			}
			if c.msg != "" && (err == nil || err.Error() != c.msg) {
				t.Fatalf("trainyard %v: error %v, want %q", c.args, err, c.msg)
			}
		})
	}
}

// A command that only groups others prints its help when called bare and
// exits 0.
func TestGroupCommandsPrintHelp(t *testing.T) {
	for _, args := range [][]string{{}, {"train"}, {"events"}, {"fakeforge", "mr"}, {"context"}} {
		out, err := run(context.Background(), args...)
		if err != nil || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Available Commands:") {
			t.Errorf("trainyard %v: %v, printed %.120q; want its help", args, err, out)
		}
	}
}

func TestVersion(t *testing.T) {
	want := buildinfo.Get()
	out, err := run(context.Background(), "--version")
	if err != nil || out != want.String()+"\n" {
		t.Fatalf("--version: %q, %v; want %q", out, err, want.String())
	}
	out, err = run(context.Background(), "version")
	if err != nil || out != want.String()+"\n" {
		t.Fatalf("version: %q, %v", out, err)
	}
	out, err = run(context.Background(), "version", "-o", "json")
	var got buildinfo.Info
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got != want {
		t.Fatalf("version -o json: %q, %v; want %+v", out, err, want)
	}
	if !strings.Contains(out, `"go_version": "go`) || !strings.Contains(out, `"commit": `) || !strings.Contains(out, `"date": `) {
		t.Fatalf("version -o json lacks a field: %s", out)
	}
}

func TestSimYAMLIsItsJSON(t *testing.T) {
	args := []string{"sim", "--mrs", "20", "--seed", "3"}
	js, err := run(context.Background(), append(args, "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := run(context.Background(), append(args, "-o", "yaml")...)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal([]byte(js), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(ys), &fromYAML); err != nil {
		t.Fatal(err)
	}
	// Compare through JSON, which has one number type.
	a, _ := json.Marshal(fromJSON)
	b, _ := json.Marshal(fromYAML)
	if !bytes.Equal(a, b) {
		t.Fatalf("sim -o yaml is not -o json:\n%s\n%s", a, b)
	}
}

// writeClientConfig writes a client config and points trainyard at it.
func writeClientConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TRAINYARD_CLIENT_CONFIG", path)
	return path
}

func TestClientConfigContexts(t *testing.T) {
	e := apitest.New(t, apitest.Options{ProtectReads: true})
	e.MR(1, false)
	other := apitest.New(t, apitest.Options{ProtectReads: true})
	path := writeClientConfig(t, fmt.Sprintf(`# where my trains are
current_context: here
contexts:
  here:
    server: %s
    token_file: here.token   # next to this file
  there:
    server: %s
    token: wrong-token
  down:
    server: %s
    forge: github
`, e.URL, other.URL, closedURL(t)))
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "here.token"), []byte(apitest.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The current context gives the server and the token, from its file.
	out, err := run(e.Ctx, "train", "add", "group/app", "1")
	if err != nil || !strings.HasPrefix(out, "Added !1 of group/app") {
		t.Fatalf("add through the current context: %q, %v", out, err)
	}
	// --context picks another; its token is refused there.
	if _, err := run(e.Ctx, "train", "list", "--context", "there"); exitCode(err) != exitAuth {
		t.Fatalf("--context there: %v, want the other server's 401", err)
	}
	// The environment beats the context, and the flag beats the environment.
	t.Setenv("TRAINYARD_TOKEN", "from-env")
	if _, err := run(e.Ctx, "train", "list"); err == nil || err.Error() != "invalid token (HTTP 401)" {
		t.Fatalf("TRAINYARD_TOKEN over the context: %v", err)
	}
	if out, err := run(e.Ctx, "train", "list", "--token", apitest.Token); err != nil || !strings.Contains(out, "group/app") {
		t.Fatalf("--token over TRAINYARD_TOKEN: %q, %v", out, err)
	}
	os.Unsetenv("TRAINYARD_TOKEN")
	t.Setenv("TRAINYARD_CONTEXT", "down")
	if _, err := run(e.Ctx, "train", "list"); exitCode(err) != exitUnreachable {
		t.Fatalf("TRAINYARD_CONTEXT=down: %v, want unreachable", err)
	}
	if _, err := run(e.Ctx, "train", "list", "--context", "nowhere"); exitCode(err) != exitUsage ||
		err.Error() != fmt.Sprintf(`context "nowhere": not in %s (have down, here, there)`, path) {
		t.Fatalf("--context nowhere: %v", err)
	}
	os.Unsetenv("TRAINYARD_CONTEXT")

	out, err = run(e.Ctx, "context", "list")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rows = append(rows, strings.Join(strings.Fields(line), " "))
	}
	want := []string{"CURRENT NAME SERVER FORGE", "down " + contextServer(t, "down") + " github", "* here " + e.URL, "there " + other.URL}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("context list:\n%s\nwant rows\n%s", out, strings.Join(want, "\n"))
	}

	out, err = run(e.Ctx, "context", "use", "there")
	if err != nil || out != fmt.Sprintf("Using context \"there\" of %s.\n", path) {
		t.Fatalf("context use: %q, %v", out, err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "current_context: there") || !strings.Contains(string(data), "# where my trains are") ||
		!strings.Contains(string(data), "# next to this file") {
		t.Fatalf("context use rewrote the file without its choice or its comments:\n%s", data)
	}
	if _, err := run(e.Ctx, "context", "use", "nowhere"); exitCode(err) != exitUsage {
		t.Fatalf("context use nowhere: %v", err)
	}
}

// contextServer reads a context's server back from the current config.
func contextServer(t *testing.T, name string) string {
	cfg, err := loadClientConfig(clientConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Contexts[name].Server
}

func TestClientConfigErrorsNameTheField(t *testing.T) {
	cases := []struct{ text, want string }{
		{"contexts:\n  prod:\n    server: http://x\n    tokenfile: t\n", `line 4: context "prod": unknown field "tokenfile" (want server, token_file, token, forge)`},
		{"current: prod\n", `line 1: unknown field "current" (want current_context or contexts)`},
		{"current_context: prod\ncontexts:\n  dev:\n    server: http://x\n", `current_context "prod": no such context (have dev)`},
		{"contexts: [a, b]\n", "line 1: contexts: want a mapping of names to contexts"},
		{"contexts:\n  dev:\n    server: [1\n", "yaml: line 2: did not find expected ',' or ']'"},
	}
	for _, c := range cases {
		path := writeClientConfig(t, c.text)
		_, err := run(context.Background(), "train", "list")
		want := "client config " + path + ": " + c.want
		if err == nil || err.Error() != want {
			t.Errorf("config %q: error %v, want %q", c.text, err, want)
		}
	}
	path := writeClientConfig(t, "current_context: a\ncontexts:\n  a:\n    token_file: missing.token\n")
	if _, err := run(context.Background(), "train", "list"); err == nil ||
		err.Error() != "token_file: open "+filepath.Join(filepath.Dir(path), "missing.token")+": no such file or directory" {
		t.Errorf("missing token file: %v", err)
	}
}

// complete runs cobra's hidden completion command and returns the
// candidates, without descriptions.
func complete(t *testing.T, ctx context.Context, args ...string) []string {
	t.Helper()
	out, err := run(ctx, append([]string{"__complete"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, ":") {
			break
		}
		name, _, _ := strings.Cut(line, "\t")
		got = append(got, name)
	}
	return got
}

func TestCompletionFromTheServer(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	one, two := e.MR(1, false), e.MR(2, false)
	for _, mr := range []int64{one, two} {
		mustRun(t, e, "train", "add", "group/app", fmt.Sprint(mr))
	}
	// Open and on no train: what add completes, the newest first.
	three, four := e.MR(3, false), e.MR(4, false)
	t.Setenv("TRAINYARD_SERVER", e.URL)
	t.Setenv("TRAINYARD_TOKEN", apitest.Token) // listing open MRs needs it, as adding one does
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "show", ""}, "group/app"},
		{[]string{"train", "show", "group/app", ""}, "main"},
		{[]string{"train", "pause", "group/app", ""}, "main"},
		{[]string{"train", "freeze", "group/app", ""}, "main"},
		{[]string{"train", "undrain", ""}, "group/app"},
		{[]string{"train", "remove", ""}, "group/app"},
		{[]string{"train", "remove", "group/app", ""}, fmt.Sprintf("%d %d", one, two)},
		{[]string{"train", "add", ""}, "group/app"},
		{[]string{"train", "add", "group/app", ""}, fmt.Sprintf("%d %d", four, three)},
		{[]string{"train", "add", "other/app", ""}, ""},
		{[]string{"train", "show", "group/app", "main", ""}, ""},
		{[]string{"train", "show", "--forge", "github", ""}, ""},
	}
	for _, c := range cases {
		if got := strings.Join(complete(t, e.Ctx, c.args...), " "); got != c.want {
			t.Errorf("complete %v = %q, want %q", c.args, got, c.want)
		}
	}
	writeClientConfig(t, "contexts:\n  b:\n    server: http://b\n  a:\n    server: http://a\n")
	if got := strings.Join(complete(t, e.Ctx, "context", "use", ""), " "); got != "a b" {
		t.Errorf("complete context use = %q, want \"a b\"", got)
	}
}

// Without TRAINYARD_CLIENT_CONFIG the client's file is under
// $XDG_CONFIG_HOME, else under ~/.config.
func TestClientConfigPath(t *testing.T) {
	t.Setenv("TRAINYARD_CLIENT_CONFIG", "")
	xdg, home := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", xdg)
	if got, want := clientConfigPath(), filepath.Join(xdg, "trainyard", "config.yaml"); got != want {
		t.Errorf("with XDG_CONFIG_HOME: %q, want %q", got, want)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	if got, want := clientConfigPath(), filepath.Join(home, ".config", "trainyard", "config.yaml"); got != want {
		t.Errorf("without XDG_CONFIG_HOME: %q, want %q", got, want)
	}
	t.Setenv("TRAINYARD_CLIENT_CONFIG", "/elsewhere/c.yaml")
	if got := clientConfigPath(); got != "/elsewhere/c.yaml" {
		t.Errorf("with TRAINYARD_CLIENT_CONFIG: %q", got)
	}
}

// A configured project with no train yet completes too, for the add that
// makes its first train; its open MRs are what that add may take.
func TestCompletionBeforeAnyTrain(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	mr := e.MR(1, false)
	t.Setenv("TRAINYARD_SERVER", e.URL)
	t.Setenv("TRAINYARD_TOKEN", apitest.Token)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "add", ""}, "group/app"},
		{[]string{"train", "add", "group/app", ""}, fmt.Sprint(mr)},
		{[]string{"train", "add", "--forge", "github", ""}, ""},
	} {
		if got := strings.Join(complete(t, e.Ctx, c.args...), " "); got != c.want {
			t.Errorf("complete %v = %q, want %q", c.args, got, c.want)
		}
	}
}
