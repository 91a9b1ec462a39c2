package gitops

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// deleted marks a path to remove in commitFiles.
const deleted = "\x00deleted"

var testIdentity = Identity{Name: "Trainyard Bot", Email: "trainyard@example.com"}

// testTime is the fixed date of the commits Build creates in tests.
var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("", 2*3600))

// author is an identity and date for seeded commits.
type author struct {
	name, email string
	date        string // git raw date, "1700000000 +0000"
}

var (
	alice = author{"Alice Example", "alice@example.com", "1700000000 +0100"}
	bob   = author{"Bob Example", "bob@example.com", "1700001000 -0500"}
)

// testGit runs git for test setup with an environment isolated from the
// machine's configuration.
func testGit(t testing.TB, gitDir string, stdin string, env []string, args ...string) string {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("the git binary is required for these tests: %v", err)
	}
	cmd := exec.Command(git, args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"GIT_DIR=" + gitDir,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"HOME=" + gitDir,
		"GIT_AUTHOR_NAME=Seed", "GIT_AUTHOR_EMAIL=seed@example.com", "GIT_AUTHOR_DATE=1600000000 +0000",
		"GIT_COMMITTER_NAME=Seed", "GIT_COMMITTER_EMAIL=seed@example.com", "GIT_COMMITTER_DATE=1600000000 +0000",
	}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newBareRepo creates an empty bare repository and returns its path.
func newBareRepo(t testing.TB, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testGit(t, dir, "", nil, "init", "--quiet", "--bare", "--initial-branch=main")
	return dir
}

// seedCommit is one commit for importCommits. A parent is a SHA or the
// mark ":N" of the N-th commit (from 1) of the same import.
type seedCommit struct {
	author  author
	msg     string
	files   map[string]string // a value of deleted removes the path
	parents []string
	refs    []string // refs set to the commit
}

// importCommits writes commits with one git fast-import and returns their
// SHAs. Each commit starts from its first parent's tree.
func importCommits(t testing.TB, gitDir string, commits []seedCommit) []string {
	t.Helper()
	var b strings.Builder
	data := func(s string) { fmt.Fprintf(&b, "data %d\n%s\n", len(s), s) }
	for i, c := range commits {
		fmt.Fprintf(&b, "reset refs/seed/scratch\ncommit refs/seed/scratch\nmark :%d\n", i+1)
		fmt.Fprintf(&b, "author %s <%s> %s\ncommitter Seed <seed@example.com> 1600000000 +0000\n", c.author.name, c.author.email, c.author.date)
		data(c.msg)
		for j, p := range c.parents {
			fmt.Fprintf(&b, "%s %s\n", map[bool]string{true: "from", false: "merge"}[j == 0], p)
		}
		paths := make([]string, 0, len(c.files))
		for p := range c.files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			if c.files[p] == deleted {
				fmt.Fprintf(&b, "D %s\n", p)
				continue
			}
			fmt.Fprintf(&b, "M 100644 inline %s\n", p)
			data(c.files[p])
		}
		for _, ref := range c.refs {
			fmt.Fprintf(&b, "reset %s\nfrom :%d\n", ref, i+1)
		}
	}
	marks := filepath.Join(t.TempDir(), "marks")
	testGit(t, gitDir, b.String(), nil, "fast-import", "--quiet", "--force", "--export-marks="+marks)
	out, err := os.ReadFile(marks)
	if err != nil {
		t.Fatal(err)
	}
	shas := make([]string, len(commits))
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var n int
		var sha string
		if _, err := fmt.Sscanf(line, ":%d %s", &n, &sha); err != nil || n < 1 || n > len(commits) {
			t.Fatalf("bad marks line %q", line)
		}
		shas[n-1] = sha
	}
	return shas
}

// commitFiles writes one commit on top of parents (the first parent's tree
// plus files).
func commitFiles(t testing.TB, gitDir string, a author, msg string, files map[string]string, parents ...string) string {
	t.Helper()
	return importCommits(t, gitDir, []seedCommit{{author: a, msg: msg, files: files, parents: parents}})[0]
}

func setRef(t testing.TB, gitDir, ref, sha string) {
	t.Helper()
	testGit(t, gitDir, "", nil, "update-ref", ref, sha)
}

// fileAt returns the content of path in commit, or deleted if absent.
func fileAt(t testing.TB, gitDir, commit, path string) string {
	t.Helper()
	ls := testGit(t, gitDir, "", nil, "ls-tree", commit, "--", path)
	if ls == "" {
		return deleted
	}
	return testGit(t, gitDir, "", nil, "cat-file", "blob", commit+":"+path) + "\n"
}

// rawCommit returns a commit object as cat-file prints it.
func rawCommit(t testing.TB, gitDir, sha string) commitObject {
	t.Helper()
	git, _ := exec.LookPath("git")
	cmd := exec.Command(git, "--git-dir", gitDir, "cat-file", "commit", sha)
	cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cat-file commit %s: %v", sha, err)
	}
	c, err := parseCommit(out)
	if err != nil {
		t.Fatalf("parse commit %s: %v", sha, err)
	}
	c.sha = sha
	return c
}

// hasObject reports whether gitDir holds the object sha.
func hasObject(t testing.TB, gitDir, sha string) bool {
	t.Helper()
	git, _ := exec.LookPath("git")
	cmd := exec.Command(git, "--git-dir", gitDir, "cat-file", "-e", sha)
	cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull}
	return cmd.Run() == nil
}

// remoteHead returns the SHA of a ref in a bare repository, or "" if absent.
func remoteHead(t testing.TB, gitDir, ref string) string {
	t.Helper()
	return testGit(t, gitDir, "", nil, "for-each-ref", "--format=%(objectname)", ref)
}

func openMirror(t testing.TB, remoteURL string, opts ...func(*Options)) *Repo {
	t.Helper()
	o := Options{Dir: t.TempDir(), Project: "group/project", RemoteURL: remoteURL, Identity: testIdentity}
	for _, f := range opts {
		f(&o)
	}
	repo, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open mirror: %v", err)
	}
	return repo
}

// world is a remote with a main branch and MR !12 (refs/merge-requests/12/head)
// branched from main's first commit, and a mirror that fetched both.
type world struct {
	remote  string // bare repository path
	mirror  *Repo
	base    string // main head
	root    string // main's first commit, where the MR branched off
	mrHead  string
	mrShas  []string // the MR's commits, oldest first
	request BuildRequest
}

func fileURL(path string) string { return "file://" + filepath.ToSlash(path) }

// newWorld seeds a remote: main = root + one commit on b.txt; the MR adds
// three commits by Alice and Bob touching a.txt and new.txt.
func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{remote: newBareRepo(t, filepath.Join(t.TempDir(), "remote.git"))}
	shas := importCommits(t, w.remote, []seedCommit{
		{author: bob, msg: "Initial\n", files: map[string]string{
			"a.txt": "a1\na2\na3\n", "b.txt": "b1\n", "dir/c.txt": "c1\n", "old.txt": "old\n",
		}},
		{author: bob, msg: "Change b\n", files: map[string]string{"b.txt": "b1\nb2\n"}, parents: []string{":1"},
			refs: []string{"refs/heads/main"}},
		{author: alice, msg: "Add new file\n\nWith a body.\n", files: map[string]string{"new.txt": "new\n"}, parents: []string{":1"}},
		{author: bob, msg: "Edit a\n", files: map[string]string{"a.txt": "a1\na2 edited\na3\n"}, parents: []string{":3"}},
		{author: alice, msg: "Remove old\n", files: map[string]string{"old.txt": deleted}, parents: []string{":4"},
			refs: []string{"refs/heads/feature", "refs/merge-requests/12/head"}},
	})
	w.root, w.base, w.mrShas, w.mrHead = shas[0], shas[1], shas[2:], shas[4]
	w.mirror = openMirror(t, fileURL(w.remote))
	w.fetch(t)
	w.request = BuildRequest{
		Base: w.base, Head: w.mrHead, SourceBranch: "feature", TargetBranch: "main",
		Project: "group/project", Title: "Add the new file", MRRef: "!12", Time: testTime,
	}
	return w
}

func (w *world) fetch(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.mirror.FetchBranch(ctx, "main"); err != nil {
		t.Fatalf("fetch main: %v", err)
	}
	if _, err := w.mirror.FetchMR(ctx, "refs/merge-requests/12/head"); err != nil {
		t.Fatalf("fetch MR: %v", err)
	}
}

// build runs Build with the world's request changed by edit.
func (w *world) build(t testing.TB, edit func(*BuildRequest)) BuildResult {
	t.Helper()
	req := w.request
	if edit != nil {
		edit(&req)
	}
	res, err := w.mirror.Build(context.Background(), req)
	if err != nil {
		t.Fatalf("build %s: %v", req.Method, err)
	}
	return res
}

func method(m string) func(*BuildRequest) { return func(r *BuildRequest) { r.Method = m } }

// ourSignature is the committer line every built commit must carry.
func ourSignature() string {
	return fmt.Sprintf("%s <%s> %d +0200", testIdentity.Name, testIdentity.Email, testTime.Unix())
}
