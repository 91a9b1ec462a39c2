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

// initBare creates the bare repository. receive.hideRefs keeps clients from
// pushing to refs/merge-requests/*, which GitLab owns.
func (r repo) initBare(ctx context.Context, defaultBranch string) error {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("create repository dir: %w", err)
	}
	if _, err := r.run(ctx, "", nil, "init", "--bare", "--quiet", "--initial-branch="+defaultBranch, "."); err != nil {
		return err
	}
	_, err := r.run(ctx, "", nil, "config", "receive.hideRefs", "refs/merge-requests")
	return err
}

// writeCommit writes c on top of parent (empty: a root commit) using a
// throwaway index, and returns the new commit's id. No ref is changed.
func (r repo) writeCommit(ctx context.Context, parent string, c Commit, sig signature) (string, error) {
	idx, err := os.CreateTemp(r.dir, "fakeforge-index-*")
	if err != nil {
		return "", fmt.Errorf("create index: %w", err)
	}
	idx.Close()
	os.Remove(idx.Name()) // git wants to create the index itself
	defer os.Remove(idx.Name())
	env := []string{"GIT_INDEX_FILE=" + idx.Name()}
	if parent != "" {
		if _, err := r.run(ctx, "", env, "read-tree", parent); err != nil {
			return "", err
		}
	}
	info, err := r.indexInfo(ctx, c)
	if err != nil {
		return "", err
	}
	if info != "" {
		if _, err := r.run(ctx, info, env, "update-index", "--index-info"); err != nil {
			return "", err
		}
	}
	tree, err := r.run(ctx, "", env, "write-tree")
	if err != nil {
		return "", err
	}
	return r.commitTree(ctx, strings.TrimSpace(tree), c.Message, sig, parentsOf(parent)...)
}

func parentsOf(p string) []string {
	if p == "" {
		return nil
	}
	return []string{p}
}

// indexInfo hashes c's files and renders the update-index --index-info
// input that applies c: mode 0 removes a path.
func (r repo) indexInfo(ctx context.Context, c Commit) (string, error) {
	paths := make([]string, 0, len(c.Files))
	for p := range c.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range c.Delete {
		fmt.Fprintf(&b, "0 %s\t%s\n", zeroSHA, p)
	}
	for _, p := range paths {
		if strings.ContainsAny(p, "\t\n") || p == "" || strings.HasPrefix(p, "/") {
			return "", fmt.Errorf("write commit: bad path %q", p)
		}
		blob, err := r.hashBlob(ctx, c.Files[p])
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "100644 %s\t%s\n", blob, p)
	}
	return b.String(), nil
}

func (r repo) hashBlob(ctx context.Context, content string) (string, error) {
	cmd := exec.CommandContext(ctx, r.bin, "hash-object", "-w", "--stdin")
	cmd.Dir, cmd.Env = r.dir, r.env
	cmd.Stdin = strings.NewReader(content)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git hash-object: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
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
func (r repo) updateRef(ctx context.Context, ref, newSHA, oldSHA string) error {
	if oldSHA == "" {
		oldSHA = zeroSHA
	}
	_, err := r.run(ctx, "", nil, "update-ref", ref, newSHA, oldSHA)
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

// newCommits lists up to max commits reachable from head and not from any
// of exclude, newest first, and how many there are in all.
func (r repo) newCommits(ctx context.Context, head string, exclude []string, max int) ([]string, int, error) {
	args := []string{"rev-list", head}
	for _, e := range exclude {
		if e != "" && e != zeroSHA {
			args = append(args, "^"+e)
		}
	}
	out, err := r.run(ctx, "", nil, args...)
	if err != nil {
		return nil, 0, err
	}
	all := strings.Fields(out)
	if len(all) > max {
		return all[:max], len(all), nil
	}
	return all, len(all), nil
}

// commitInfo is what webhooks say about a commit.
type commitInfo struct {
	ID, Title, Message, AuthorName, AuthorEmail string
	Parents                                     []string
	Time                                        time.Time
}

func (r repo) commitInfo(ctx context.Context, sha string) (commitInfo, error) {
	out, err := r.run(ctx, "", nil, "show", "-s", "--format=%H%x00%P%x00%an%x00%ae%x00%at%x00%B", sha)
	if err != nil {
		return commitInfo{}, err
	}
	f := strings.SplitN(out, "\x00", 6)
	if len(f) != 6 {
		return commitInfo{}, fmt.Errorf("git show %s: unexpected output", sha)
	}
	secs, _ := strconv.ParseInt(f[4], 10, 64)
	msg := strings.TrimRight(f[5], "\n") + "\n"
	title, _, _ := strings.Cut(msg, "\n")
	return commitInfo{
		ID: f[0], Parents: strings.Fields(f[1]), AuthorName: f[2], AuthorEmail: f[3],
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
