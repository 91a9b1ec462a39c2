package gitops

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// commitObject is the part of a commit object the builders read or write.
type commitObject struct {
	sha       string // empty for a commit not yet written
	tree      string
	parents   []string
	author    string // "Name <email> 1700000000 +0200", verbatim
	committer string
	encoding  string
	message   string // verbatim, including its trailing newline
}

// signature formats a commit identity line with a fixed timestamp, which is
// what makes a rebuilt commit come out with the same SHA.
func signature(id Identity, t time.Time) string {
	return fmt.Sprintf("%s <%s> %d %s", id.Name, id.Email, t.Unix(), t.Format("-0700"))
}

// withDate keeps the name and email of a signature line and replaces its date.
func withDate(sig string, t time.Time) string {
	end := strings.LastIndexByte(sig, '>')
	if end < 0 {
		return sig
	}
	return fmt.Sprintf("%s %d %s", sig[:end+1], t.Unix(), t.Format("-0700"))
}

func (c commitObject) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "tree %s\n", c.tree)
	for _, p := range c.parents {
		fmt.Fprintf(&b, "parent %s\n", p)
	}
	fmt.Fprintf(&b, "author %s\ncommitter %s\n", c.author, c.committer)
	if c.encoding != "" {
		fmt.Fprintf(&b, "encoding %s\n", c.encoding)
	}
	b.WriteString("\n")
	b.WriteString(c.message)
	return b.Bytes()
}

// writeCommit stores c and returns its SHA. The object is written verbatim
// (rather than through commit-tree) so that replayed commits keep their
// author line byte for byte, without git's identity clean-up.
func (r *Repo) writeCommit(ctx context.Context, c commitObject) (string, error) {
	gen := r.known.generation()
	res, err := r.run.run(ctx, call{
		args:  []string{"hash-object", "-t", "commit", "-w", "--stdin"},
		stdin: bytes.NewReader(c.encode()),
	})
	if err != nil {
		return "", fmt.Errorf("write commit on tree %s: %w", c.tree, err)
	}
	sha := strings.TrimSpace(string(res.stdout))
	r.known.add(sha, gen)
	return sha, nil
}

// readCommits returns the commits named by shas, in order, with one git
// process. A missing object is a *MissingCommitError.
func (r *Repo) readCommits(ctx context.Context, shas []string) ([]commitObject, error) {
	if len(shas) == 0 {
		return nil, nil
	}
	res, err := r.run.run(ctx, call{
		args:  []string{"cat-file", "--batch"},
		stdin: strings.NewReader(strings.Join(shas, "\n") + "\n"),
	})
	if err != nil {
		return nil, fmt.Errorf("read commits: %w", err)
	}
	out := bufio.NewReader(bytes.NewReader(res.stdout))
	commits := make([]commitObject, 0, len(shas))
	for _, sha := range shas {
		body, err := readBatchObject(out, sha)
		if err != nil {
			return nil, err
		}
		c, err := parseCommit(body)
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", sha, err)
		}
		c.sha = sha
		commits = append(commits, c)
	}
	return commits, nil
}

// readBatchObject reads one "<oid> <type> <size>\n<content>\n" record of
// cat-file --batch, or its "<name> missing" line.
func readBatchObject(out *bufio.Reader, sha string) ([]byte, error) {
	header, err := out.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("read commit %s: truncated cat-file output: %w", sha, err)
	}
	fields := strings.Fields(header)
	if len(fields) == 2 && fields[1] == "missing" {
		return nil, &MissingCommitError{SHA: sha}
	}
	if len(fields) != 3 {
		return nil, fmt.Errorf("read commit %s: unexpected cat-file header %q", sha, header)
	}
	size, err := strconv.Atoi(fields[2])
	if err != nil {
		return nil, fmt.Errorf("read commit %s: bad size in %q", sha, header)
	}
	body := make([]byte, size+1) // the content and its terminating newline
	if _, err := io.ReadFull(out, body); err != nil {
		return nil, fmt.Errorf("read commit %s: truncated cat-file output: %w", sha, err)
	}
	if fields[1] != "commit" {
		return nil, fmt.Errorf("read commit %s: %w: object is a %s", sha, ErrInvalidArgument, fields[1])
	}
	return body[:size], nil
}

// parseCommit reads the headers it knows and the message; other headers
// (gpgsig, mergetag) are dropped, since a rewritten commit cannot keep them.
func parseCommit(raw []byte) (commitObject, error) {
	headers, message, found := bytes.Cut(raw, []byte("\n\n"))
	if !found {
		headers, message = bytes.TrimSuffix(raw, []byte("\n")), nil
	}
	var c commitObject
	for _, line := range strings.Split(string(headers), "\n") {
		key, value, _ := strings.Cut(line, " ")
		switch key {
		case "tree":
			c.tree = value
		case "parent":
			c.parents = append(c.parents, value)
		case "author":
			c.author = value
		case "committer":
			c.committer = value
		case "encoding":
			c.encoding = value
		}
	}
	if c.tree == "" || c.author == "" {
		return commitObject{}, fmt.Errorf("malformed commit object")
	}
	c.message = string(message)
	return c, nil
}
