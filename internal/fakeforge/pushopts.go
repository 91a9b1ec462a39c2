package fakeforge

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// pushRequest is what a receive-pack request says besides its pack: the
// branches its commands update and the GitLab CI push options it carries
// (https://docs.gitlab.com/ee/user/project/push_options.html). The zero
// value is a push without options, as every push not made over git is.
type pushRequest struct {
	// branches are the branches the commands name, so options apply to
	// this push's moves only, not to another push's a rescan also sees.
	branches map[string]bool
	// skipCI is ci.skip: no pipeline for this push.
	skipCI bool
	// vars are the ci.variable options, in the order first given.
	vars []variable
}

// pushPipeline decides whether a branch moved to a commit starts a
// pipeline, and with which variables, as a project whose CI rules follow
// Trainyard's docs does: a push naming the branch with ci.skip starts none,
// one with ci.variable options starts one with them, and any other only
// when CI.OnPush. CI.APIOnly starts none whatever the options.
func (f *Forge) pushPipeline(push pushRequest, branch string) (bool, []variable) {
	ci := f.opts.CI
	switch {
	case ci.APIOnly:
		return false, nil
	case !push.branches[branch]:
		return ci.OnPush, nil
	case push.skipCI:
		return false, nil
	case len(push.vars) > 0:
		// Each pipeline gets its own copy: a push of several
		// branches starts several.
		return true, slices.Clone(push.vars)
	}
	return ci.OnPush, nil
}

// maxPendingPushes bounds a project's pushes waiting for their rescan:
// far more than run at once.
const maxPendingPushes = 1000

// notePush records req as the push of every branch it names, until a
// rescan handles the branch's move.
func (f *Forge) notePush(p *project, req *pushRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.pendingPush == nil || len(p.pendingPush) >= maxPendingPushes {
		p.pendingPush = map[string]*pushRequest{}
	}
	for b := range req.branches {
		p.pendingPush[b] = req
	}
}

// takePush returns the push that moved branch, and forgets it; a move no
// push over git named (the API's, the control endpoints') has none.
func (f *Forge) takePush(p *project, branch string) pushRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	req, ok := p.pendingPush[branch]
	if !ok {
		return pushRequest{}
	}
	delete(p.pendingPush, branch)
	return *req
}

// forgetPush drops what is left of req once its own rescan ran: a branch
// it named that did not move (the push was refused) must not lend its
// options to a later move.
func (f *Forge) forgetPush(p *project, req *pushRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for b := range req.branches {
		if p.pendingPush[b] == req {
			delete(p.pendingPush, b)
		}
	}
}

// maxPktLine is the largest pkt-line git sends, its 4-byte length included.
const maxPktLine = 65520

// errFlush is what readPkt returns for a flush-pkt ("0000").
var errFlush = errors.New("flush-pkt")

// parsePushRequest reads the commands and push options at the head of a
// receive-pack request body (gitprotocol-pack's update-request): optional
// shallow lines, the command list ended by a flush-pkt, and, when the
// first command's capabilities include push-options, the option lines and
// another flush-pkt. The pack that follows is not read. A gzip body
// (Content-Encoding, as git http-backend accepts it) is inflated here
// only. On error the request is the zero value: a push without options.
func parsePushRequest(body []byte, contentEncoding string) (pushRequest, error) {
	var in io.Reader = bytes.NewReader(body)
	switch strings.ToLower(strings.TrimSpace(contentEncoding)) {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return pushRequest{}, fmt.Errorf("push request: gzip: %w", err)
		}
		in = zr
	default:
		return pushRequest{}, fmt.Errorf("push request: unsupported content encoding %q", contentEncoding)
	}
	// Only the head is read, but a gzip body could inflate without end.
	br := bufio.NewReader(io.LimitReader(in, maxPushBody))
	req, err := readPushRequest(br)
	if err != nil {
		return pushRequest{}, fmt.Errorf("push request: %w", err)
	}
	return req, nil
}

func readPushRequest(br *bufio.Reader) (pushRequest, error) {
	lines, err := readSection(br, maxPushCommands, "commands")
	if err != nil {
		return pushRequest{}, err
	}
	req := pushRequest{branches: map[string]bool{}}
	var caps []string
	first := true
	for _, line := range lines {
		if first && strings.HasPrefix(line, "shallow ") {
			continue // shallow lines only come before the commands
		}
		if first {
			first = false
			var capList string
			line, capList, _ = strings.Cut(line, "\x00")
			caps = strings.Fields(capList)
		}
		// A signed push (push-cert) carries its commands among the
		// certificate's lines; anything not a command is skipped.
		if branch, ok := commandBranch(line); ok {
			req.branches[branch] = true
		}
	}
	if first || !slices.Contains(caps, "push-options") {
		// No commands (git probes a large push with a bare flush), or
		// no options: nothing more to read.
		return req, nil
	}
	opts, err := readSection(br, maxPushOptions, "push options")
	if err != nil {
		return pushRequest{}, err
	}
	req.skipCI, req.vars = ciPushOptions(opts)
	return req, nil
}

// readSection reads pkt-lines up to a flush-pkt, at most max of them.
func readSection(br *bufio.Reader, max int, what string) ([]string, error) {
	var lines []string
	for {
		line, err := readPkt(br)
		if errors.Is(err, errFlush) {
			return lines, nil
		}
		if err != nil {
			return nil, err
		}
		if len(lines) >= max {
			return nil, fmt.Errorf("more than %d lines of %s", max, what)
		}
		lines = append(lines, line)
	}
}

// Bounds on the lines of a push request's command and option sections,
// far above what a client sends, so a hostile body cannot hold the
// forge's memory: a rejected request is read as one with no options,
// and git itself judges the rest.
const (
	maxPushCommands = 10000
	maxPushOptions  = 100
)

// readPkt reads one pkt-line and returns its payload without a trailing
// LF, or errFlush for a flush-pkt.
func readPkt(br *bufio.Reader) (string, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return "", fmt.Errorf("pkt-line length: %w", noEOF(err))
	}
	n, err := strconv.ParseUint(string(hdr[:]), 16, 16)
	if err != nil {
		return "", fmt.Errorf("pkt-line length %q: not hex", hdr[:])
	}
	switch {
	case n == 0:
		return "", errFlush
	case n < 4 || n > maxPktLine:
		// 0001 and 0002 are protocol v2's delimiters, which a push
		// never sends.
		return "", fmt.Errorf("pkt-line length %d out of range", n)
	}
	payload := make([]byte, n-4)
	if _, err := io.ReadFull(br, payload); err != nil {
		return "", fmt.Errorf("pkt-line payload of %d bytes: %w", n-4, noEOF(err))
	}
	return strings.TrimSuffix(string(payload), "\n"), nil
}

// noEOF turns a bare EOF into ErrUnexpectedEOF: a request that ends
// before its flush-pkt is truncated.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// commandBranch returns the branch of a command "<old> <new> <ref>", if
// line is one and its ref is a branch.
func commandBranch(line string) (string, bool) {
	f := strings.Fields(line)
	if len(f) != 3 || !isObjectID(f[0]) || !isObjectID(f[1]) {
		return "", false
	}
	branch, ok := strings.CutPrefix(f[2], "refs/heads/")
	return branch, ok && branch != ""
}

// isObjectID accepts SHA-1 and SHA-256 ids in lower-case hex, as git
// writes them.
func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ciPushOptions interprets GitLab's CI push options and ignores the rest
// (merge_request.*, or anything unknown, as GitLab ignores what it does
// not know). A ci.variable is NAME=value, split on the first '='; one
// without '=' or with an invalid name is ignored, as GitLab skips it.
// A name given twice keeps its first place and its last value.
func ciPushOptions(opts []string) (skip bool, vars []variable) {
	at := map[string]int{}
	for _, o := range opts {
		key, value, _ := strings.Cut(o, "=")
		switch strings.TrimSpace(key) {
		case "ci.skip":
			skip = true
		case "ci.variable":
			// A shell strips the quotes of -o ci.variable="N=v"; a
			// client that passes them through sends them.
			value = strings.TrimSpace(value)
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			name, val, ok := strings.Cut(value, "=")
			if !ok || !isVariableName(name) {
				continue
			}
			if i, seen := at[name]; seen {
				vars[i].Value = val
				continue
			}
			at[name] = len(vars)
			vars = append(vars, variable{Key: name, Value: val, Type: "env_var"})
		}
	}
	return skip, vars
}

// isVariableName reports whether s is a valid GitLab CI/CD variable name:
// letters, digits and underscores.
func isVariableName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
