package gitops

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// ReadFile returns the content of the file at path in commit; found is
// false when the commit has no such file. A file larger than limit bytes,
// or a directory or link at path, is an error: what reads it must not be
// made to hold a large blob.
func (r *Repo) ReadFile(ctx context.Context, commit, path string, limit int64) (_ []byte, found bool, err error) {
	defer r.run.scrubErr(&err)
	if err := checkSHA(commit); err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	if path == "" || strings.HasPrefix(path, "-") || strings.HasPrefix(path, "/") {
		return nil, false, fmt.Errorf("read %q: %w: not a path in the repository", path, ErrInvalidArgument)
	}
	// ls-tree tells a missing file from a failure, and the entry's mode
	// and size without reading it.
	res, err := r.run.run(ctx, call{args: []string{"ls-tree", "--long", "--full-tree", commit, "--", path}})
	if err != nil {
		return nil, false, fmt.Errorf("read %s at %.12s: %w", path, commit, err)
	}
	line := strings.TrimSpace(string(res.stdout))
	if line == "" {
		return nil, false, nil
	}
	// <mode> SP <type> SP <object> SP+ <size> TAB <path>
	meta, _, _ := strings.Cut(line, "\t")
	fields := strings.Fields(meta)
	if len(fields) != 4 || fields[1] != "blob" || fields[0] == "120000" {
		return nil, false, fmt.Errorf("read %s at %.12s: it is not a regular file", path, commit)
	}
	size, err := strconv.ParseInt(fields[3], 10, 64)
	if err != nil {
		return nil, false, fmt.Errorf("read %s at %.12s: size %q: %w", path, commit, fields[3], err)
	}
	if size > limit {
		return nil, false, fmt.Errorf("read %s at %.12s: %d bytes, more than the %d allowed", path, commit, size, limit)
	}
	res, err = r.run.run(ctx, call{args: []string{"cat-file", "blob", fields[2]}})
	if err != nil {
		return nil, false, fmt.Errorf("read %s at %.12s: %w", path, commit, err)
	}
	return res.stdout, true, nil
}
