package gitops

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Size of the benchmark repository.
const (
	benchCommits = 10000
	benchFiles   = 5000
	benchMRAt    = 50 // the MR branches off main~benchMRAt
	benchCache   = "trainyard-bench-repo"
	benchDone    = "complete-v1" // marker written once the cache is whole
)

// benchRepo returns the data dir of a cached repository (project
// "group/project") with main at benchCommits commits over benchFiles files
// and a three-commit MR on refs/heads/feature; it is generated once with
// fast-import and reused by later runs.
func benchRepo(b *testing.B) string {
	b.Helper()
	cache := filepath.Join(os.TempDir(), benchCache)
	if _, err := os.Stat(filepath.Join(cache, benchDone)); err == nil {
		return cache
	}
	tmp, err := os.MkdirTemp(os.TempDir(), benchCache+"-*")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	gitDir := newBareRepo(b, filepath.Join(tmp, "group", "project.git"))
	writeBenchHistory(b, gitDir)
	if err := os.WriteFile(filepath.Join(tmp, benchDone), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	os.RemoveAll(cache) // an incomplete earlier attempt
	if err := os.Rename(tmp, cache); err != nil {
		if _, statErr := os.Stat(filepath.Join(cache, benchDone)); statErr != nil {
			b.Fatalf("install benchmark repository: %v", err)
		}
	}
	return cache
}

// writeBenchHistory streams the whole history into one git fast-import.
func writeBenchHistory(b *testing.B, gitDir string) {
	git, err := exec.LookPath("git")
	if err != nil {
		b.Fatalf("the git binary is required for this benchmark: %v", err)
	}
	cmd := exec.Command(git, "--git-dir", gitDir, "fast-import", "--quiet")
	cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	streamBenchHistory(w)
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("fast-import: %v\n%s", err, stderr.String())
	}
}

func streamBenchHistory(w *bufio.Writer) {
	commit := func(ref string, mark int, from int, msg string, files map[int]string) {
		fmt.Fprintf(w, "commit %s\nmark :%d\n", ref, mark)
		fmt.Fprintf(w, "author Dev <dev@example.com> %d +0000\ncommitter Dev <dev@example.com> %d +0000\n", 1600000000+mark, 1600000000+mark)
		fmt.Fprintf(w, "data %d\n%s\n", len(msg), msg)
		if from > 0 {
			fmt.Fprintf(w, "from :%d\n", from)
		}
		for i := 0; i < benchFiles; i++ { // ordered, so the stream is reproducible
			if content, ok := files[i]; ok {
				fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", benchPath(i), len(content), content)
			}
		}
	}
	initial := make(map[int]string, benchFiles)
	for i := 0; i < benchFiles; i++ {
		initial[i] = fmt.Sprintf("file %d\nline 2\nline 3\n", i)
	}
	commit("refs/heads/main", 1, 0, "initial", initial)
	for n := 2; n <= benchCommits; n++ {
		f := n % benchFiles
		commit("refs/heads/main", n, n-1, fmt.Sprintf("change %d", n), map[int]string{f: fmt.Sprintf("file %d\nline 2 v%d\nline 3\n", f, n)})
	}
	from := benchCommits - benchMRAt
	for k, f := range []int{10, 20, 30} {
		mark := benchCommits + 1 + k
		commit("refs/heads/feature", mark, from, fmt.Sprintf("feature %d", k), map[int]string{f: fmt.Sprintf("file %d\nline 2\nline 3 feature\n", f)})
		from = mark
	}
}

func benchPath(i int) string { return fmt.Sprintf("dir%02d/sub%d/file%04d.txt", i%50, i%7, i) }

func benchBuild(b *testing.B, method string) {
	dataDir := benchRepo(b)
	ctx := context.Background()
	repo, err := Open(ctx, Options{Dir: dataDir, Project: "group/project", RemoteURL: "file:///nonexistent", Identity: testIdentity})
	if err != nil {
		b.Fatal(err)
	}
	base, err := repo.Head(ctx, "refs/heads/main")
	if err != nil {
		b.Fatal(err)
	}
	head, err := repo.Head(ctx, "refs/heads/feature")
	if err != nil {
		b.Fatal(err)
	}
	req := BuildRequest{Base: base, Head: head, Method: method, SourceBranch: "feature", TargetBranch: "main",
		Project: "group/project", Title: "Feature", MRRef: "!1", Time: testTime}
	var first string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := repo.Build(ctx, req)
		if err != nil || res.Commit == "" || (first != "" && res.Commit != first) {
			b.Fatalf("build %d = %+v, %v (first %s)", i, res, err, first)
		}
		first = res.Commit
	}
}

// BenchmarkBuildMerge builds one car's merge commit in a repository of
// 10,000 commits over 5,000 files.
func BenchmarkBuildMerge(b *testing.B)  { benchBuild(b, MethodMerge) }
func BenchmarkBuildSquash(b *testing.B) { benchBuild(b, MethodSquash) }

// BenchmarkBuildRebase replays the MR's three commits.
func BenchmarkBuildRebase(b *testing.B) { benchBuild(b, MethodRebase) }
