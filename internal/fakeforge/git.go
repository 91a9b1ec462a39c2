package fakeforge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// zeroSHA is git's "no commit", used in push events for created and deleted
// branches.
const zeroSHA = "0000000000000000000000000000000000000000"

// Commit is a commit the control API writes: files to add or replace, paths
// to delete, and a message.
type Commit struct {
	Message string
	Files   map[string]string
	Delete  []string
}

// signature is a commit's author or committer.
type signature struct {
	Name  string
	Email string
	When  time.Time
}

// repo runs git plumbing in one bare repository; no work tree is needed.
type repo struct {
	bin string
	dir string
	env []string
}

func (r repo) run(ctx context.Context, stdin string, extraEnv []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Dir = r.dir
	cmd.Env = append(append([]string(nil), r.env...), extraEnv...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// initBare creates the bare repository. Clients may not push to
// refs/merge-requests/* or refs/pull/*, which the forge owns, nor see the
// forge's scratch ref. Every ref update is logged (a bare repository
// logs none by default), so every position a branch took, whoever moved
// it, can be audited with git reflog alone.
func (r repo) initBare(ctx context.Context, defaultBranch string) error {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("create repository dir: %w", err)
	}
	if _, err := r.run(ctx, "", nil, "init", "--bare", "--quiet", "--initial-branch="+defaultBranch, "."); err != nil {
		return err
	}
	for _, kv := range [][2]string{
		{"receive.hideRefs", "refs/merge-requests"},
		{"receive.hideRefs", "refs/pull"},
		{"receive.hideRefs", "refs/fakeforge"},
		{"uploadpack.hideRefs", "refs/fakeforge"},
		{"core.logAllRefUpdates", "always"},
		// A repository lives as long as its test or benchmark: a gc
		// after every push would only cost the machine a process that
		// the service under test then waits behind.
		{"receive.autogc", "false"},
	} {
		if _, err := r.run(ctx, "", nil, "config", "--add", kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// scratchRef is where git fast-import leaves the commits it writes; the
// forge moves real refs itself, with compare-and-set. It is hidden from
// clients.
const scratchRef = "refs/fakeforge/scratch"

// writeCommits writes commits in order on top of parent (empty: the first
// is a root commit) in one git fast-import, and returns the last one's id.
// No branch is changed.
func (r repo) writeCommits(ctx context.Context, parent string, commits []Commit, sig signature) (string, error) {
	if len(commits) == 0 {
		return parent, nil
	}
	stream, err := fastImportStream(parent, commits, sig)
	if err != nil {
		return "", err
	}
	out, err := r.run(ctx, stream, nil, "fast-import", "--quiet", "--done", "--force")
	if err != nil {
		return "", err
	}
	head := strings.TrimSpace(out)
	if len(head) != len(zeroSHA) {
		return "", fmt.Errorf("git fast-import: unexpected output %q", out)
	}
	return head, nil
}

func fastImportStream(parent string, commits []Commit, sig signature) (string, error) {
	var b strings.Builder
	data := func(s string) { fmt.Fprintf(&b, "data %d\n%s\n", len(s), s) }
	who := fmt.Sprintf("%s <%s> %d +0000", sig.Name, sig.Email, sig.When.Unix())
	fmt.Fprintf(&b, "reset %s\n", scratchRef)
	mark := 0
	for i, c := range commits {
		paths := make([]string, 0, len(c.Files))
		for p := range c.Files {
			if err := checkPath(p); err != nil {
				return "", err
			}
			paths = append(paths, p)
		}
		sort.Strings(paths)
		blobs := map[string]int{}
		for _, p := range paths {
			mark++
			blobs[p] = mark
			fmt.Fprintf(&b, "blob\nmark :%d\n", mark)
			data(c.Files[p])
		}
		msg := c.Message
		if msg == "" {
			msg = "Update"
		}
		fmt.Fprintf(&b, "commit %s\nmark :%d\nauthor %s\ncommitter %s\n", scratchRef, 1000000+i, who, who)
		data(msg)
		switch {
		case i > 0:
			fmt.Fprintf(&b, "from :%d\n", 1000000+i-1)
		case parent != "":
			fmt.Fprintf(&b, "from %s\n", parent)
		}
		for _, p := range c.Delete {
			if err := checkPath(p); err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "D %s\n", p)
		}
		for _, p := range paths {
			fmt.Fprintf(&b, "M 100644 :%d %s\n", blobs[p], p)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "get-mark :%d\ndone\n", 1000000+len(commits)-1)
	return b.String(), nil
}

// checkPath refuses paths fast-import would read differently.
func checkPath(p string) error {
	if p == "" || strings.ContainsAny(p, "\n\x00") || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "\"") {
		return fmt.Errorf("write commit: bad path %q", p)
	}
	return nil
}

func (r repo) commitTree(ctx context.Context, tree, msg string, sig signature, parents ...string) (string, error) {
	if msg == "" {
		msg = "Update"
	}
	args := []string{"commit-tree", tree}
	for _, p := range parents {
		args = append(args, "-p", p)
	}
	date := strconv.FormatInt(sig.When.Unix(), 10) + " +0000"
	env := []string{
		"GIT_AUTHOR_NAME=" + sig.Name, "GIT_AUTHOR_EMAIL=" + sig.Email, "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=" + sig.Name, "GIT_COMMITTER_EMAIL=" + sig.Email, "GIT_COMMITTER_DATE=" + date,
	}
	out, err := r.run(ctx, msg, env, args...)
	return strings.TrimSpace(out), err
}

// mergeCommit merges theirs into ours as GitLab's merge button does; a
// conflict is an error.
func (r repo) mergeCommit(ctx context.Context, ours, theirs, msg string, sig signature) (string, error) {
	out, err := r.run(ctx, "", nil, "merge-tree", "--write-tree", "--no-messages", ours, theirs)
	if err != nil {
		return "", fmt.Errorf("merge %s into %s: %w", theirs, ours, err)
	}
	tree := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	return r.commitTree(ctx, tree, msg, sig, ours, theirs)
}

// heads returns every branch and its commit.
func (r repo) heads(ctx context.Context) (map[string]string, error) {
	out, err := r.run(ctx, "", nil, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/")
	if err != nil {
		return nil, err
	}
	heads := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		sha, ref, ok := strings.Cut(l, " ")
		if ok {
			heads[strings.TrimPrefix(ref, "refs/heads/")] = sha
		}
	}
	return heads, nil
}

// resolve returns the commit ref names, or "" when it does not exist.
func (r repo) resolve(ctx context.Context, ref string) (string, error) {
	out, err := r.run(ctx, "", nil, "for-each-ref", "--format=%(objectname)", ref)
	return strings.TrimSpace(out), err
}

// updateRef moves ref to newSHA only if it is at oldSHA ("" : must not exist).
// Its reflog entry names the forge, so an audit tells the forge's own
// moves (control API pushes, merge button) from pushes over git, which
// git http-backend logs under the pusher's username.
func (r repo) updateRef(ctx context.Context, ref, newSHA, oldSHA string) error {
	if oldSHA == "" {
		oldSHA = zeroSHA
	}
	ident := []string{"GIT_COMMITTER_NAME=fakeforge", "GIT_COMMITTER_EMAIL=fakeforge@localhost"}
	_, err := r.run(ctx, "", ident, "update-ref", "-m", "fakeforge: "+ref, ref, newSHA, oldSHA)
	return err
}

func (r repo) deleteRef(ctx context.Context, ref, oldSHA string) error {
	_, err := r.run(ctx, "", nil, "update-ref", "-d", ref, oldSHA)
	return err
}

// isAncestor reports whether commit a is reachable from commit b.
func (r repo) isAncestor(ctx context.Context, a, b string) (bool, error) {
	_, err := r.run(ctx, "", nil, "merge-base", "--is-ancestor", a, b)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return false, nil
	}
	return false, err
}

// mergedMRHeads returns the MRs whose head ref is reachable from commit,
// with the commit each ref points at: one git process however many MRs
// are open, where a merge-base per MR would take one each.
func (r repo) mergedMRHeads(ctx context.Context, commit string) (map[int64]string, error) {
	out, err := r.run(ctx, "", nil, "for-each-ref", "--merged="+commit, "--format=%(objectname) %(refname)", "refs/merge-requests/")
	if err != nil {
		return nil, err
	}
	heads := map[int64]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		sha, ref, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		n, ok := strings.CutSuffix(strings.TrimPrefix(ref, "refs/merge-requests/"), "/head")
		if iid, err := strconv.ParseInt(n, 10, 64); ok && err == nil {
			heads[iid] = sha
		}
	}
	return heads, nil
}

// loggedCommit is a commit with the paths it changed against its first
// parent.
type loggedCommit struct {
	commitInfo
	added, modified, removed []string
}

// log lists up to max commits reachable from head and not from exclude,
// newest first, with their changed paths, in one git process.
func (r repo) log(ctx context.Context, head, exclude string, max int) ([]loggedCommit, error) {
	args := []string{"log", "-z", "--name-status", "--no-renames", "--first-parent", "-m",
		"--format=%x01%H%x02%P%x02%an%x02%ae%x02%at%x02%B%x03", "-n", strconv.Itoa(max), head}
	if exclude != "" && exclude != zeroSHA {
		args = append(args, "^"+exclude)
	}
	out, err := r.run(ctx, "", nil, args...)
	if err != nil {
		return nil, err
	}
	var commits []loggedCommit
	for _, rec := range strings.Split(out, "\x01")[1:] {
		c, err := parseLogged(rec)
		if err != nil {
			return nil, fmt.Errorf("git log %s: %w", head, err)
		}
		commits = append(commits, c)
	}
	return commits, nil
}

func parseLogged(rec string) (loggedCommit, error) {
	header, changes, ok := strings.Cut(rec, "\x03")
	f := strings.SplitN(header, "\x02", 6)
	if !ok || len(f) != 6 {
		return loggedCommit{}, errors.New("unexpected output")
	}
	secs, _ := strconv.ParseInt(f[4], 10, 64)
	msg := strings.TrimRight(f[5], "\n") + "\n"
	title, _, _ := strings.Cut(msg, "\n")
	c := loggedCommit{
		commitInfo: commitInfo{ID: f[0], Parents: strings.Fields(f[1]), AuthorName: f[2], AuthorEmail: f[3],
			Time: time.Unix(secs, 0).UTC(), Message: msg, Title: title},
		added: []string{}, modified: []string{}, removed: []string{},
	}
	fields := strings.Split(strings.Trim(changes, "\x00\n"), "\x00")
	for i := 0; i+1 < len(fields); i += 2 {
		switch strings.TrimLeft(fields[i], "\n") {
		case "A":
			c.added = append(c.added, fields[i+1])
		case "D":
			c.removed = append(c.removed, fields[i+1])
		default:
			c.modified = append(c.modified, fields[i+1])
		}
	}
	return c, nil
}

// count is how many commits are reachable from head and not from exclude.
func (r repo) count(ctx context.Context, head, exclude string) (int, error) {
	args := []string{"rev-list", "--count", head}
	if exclude != "" && exclude != zeroSHA {
		args = append(args, "^"+exclude)
	}
	out, err := r.run(ctx, "", nil, args...)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(out))
}

// commitInfo is what webhooks say about a commit.
type commitInfo struct {
	ID, Tree, Title, Message, AuthorName, AuthorEmail string
	Parents                                           []string
	Time                                              time.Time
}

func (r repo) commitInfo(ctx context.Context, sha string) (commitInfo, error) {
	out, err := r.run(ctx, "", nil, "show", "-s", "--format=%H%x00%P%x00%an%x00%ae%x00%at%x00%T%x00%B", sha)
	if err != nil {
		return commitInfo{}, err
	}
	f := strings.SplitN(out, "\x00", 7)
	if len(f) != 7 {
		return commitInfo{}, fmt.Errorf("git show %s: unexpected output", sha)
	}
	secs, _ := strconv.ParseInt(f[4], 10, 64)
	msg := strings.TrimRight(f[6], "\n") + "\n"
	title, _, _ := strings.Cut(msg, "\n")
	return commitInfo{
		ID: f[0], Tree: f[5], Parents: strings.Fields(f[1]), AuthorName: f[2], AuthorEmail: f[3],
		Time: time.Unix(secs, 0).UTC(), Message: msg, Title: title,
	}, nil
}

// paths lists every file in commit's tree.
func (r repo) paths(ctx context.Context, commit string) ([]string, error) {
	out, err := r.run(ctx, "", nil, "ls-tree", "-r", "--name-only", "-z", commit)
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(out, func(c rune) bool { return c == 0 }), nil
}

// gitEnv is the environment of every git process: no system or user
// configuration leaks in, and git never prompts.
func gitEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"LANG=C",
	}
}

func repoDir(root, project string) string {
	return filepath.Join(root, "repos", filepath.FromSlash(project)+".git")
}
