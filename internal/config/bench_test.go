package config

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkParseExample(b *testing.B) {
	data := []byte(readRepoFile(b, "configs/trainyard.example.yaml"))
	env := envMap(forgeEnv())
	for b.Loop() {
		if _, err := Parse(data, env, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// manyProjects is a config with n GitLab projects, the last one the one
// looked up, so lookups pay for the whole list.
func manyProjects(b *testing.B, n int) *Config {
	var y strings.Builder
	y.WriteString("projects:\n")
	for i := range n {
		fmt.Fprintf(&y, "  - {forge: gitlab, path: group/app%d, branches: [main, 'release/*'], max_parallel: 5}\n", i)
	}
	c, err := Parse([]byte(y.String()), envMap(forgeEnv()), nil)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkPerEventLookups(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		c := manyProjects(b, n)
		last := fmt.Sprintf("Group/App%d", n-1)
		b.Run(fmt.Sprintf("projects=%d", n), func(b *testing.B) {
			for b.Loop() {
				if !c.BranchAllowed(ForgeGitLab, last, "release/2") || c.Settings(ForgeGitLab, last).MaxParallel != 5 {
					b.Fatal("lookup failed")
				}
			}
		})
	}
}
