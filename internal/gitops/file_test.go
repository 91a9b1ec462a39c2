package gitops

import (
	"context"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	got, found, err := w.mirror.ReadFile(ctx, w.base, "b.txt", 100)
	if err != nil || !found || string(got) != "b1\nb2\n" {
		t.Fatalf("ReadFile(b.txt) = %q, %v, %v", got, found, err)
	}
	if got, found, err := w.mirror.ReadFile(ctx, w.base, "dir/c.txt", 100); err != nil || !found || string(got) != "c1\n" {
		t.Fatalf("ReadFile(dir/c.txt) = %q, %v, %v", got, found, err)
	}
	if _, found, err := w.mirror.ReadFile(ctx, w.base, ".trainyard.yml", 100); err != nil || found {
		t.Fatalf("ReadFile(missing) found = %v, err = %v; want not found and no error", found, err)
	}
	for _, tc := range []struct{ path, want string }{
		{"dir", "not a regular file"},
		{"b.txt", "more than the 3 allowed"},
		{"-p", "not a path"},
	} {
		if _, _, err := w.mirror.ReadFile(ctx, w.base, tc.path, 3); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadFile(%s) err = %v, want %q", tc.path, err, tc.want)
		}
	}
	if _, _, err := w.mirror.ReadFile(ctx, "main", "b.txt", 100); err == nil {
		t.Error("ReadFile took a ref for a commit")
	}
}
