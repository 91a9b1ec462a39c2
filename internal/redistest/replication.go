package redistest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// setupTimeout bounds the wait for a cluster or sentinel set to form, and
// for a failover to complete when the caller's context has no deadline.
const setupTimeout = 30 * time.Second

// waitFor calls check until it returns nil or ctx ends, and then returns
// the last error check gave before ctx ended, prefixed with what.
func waitFor(ctx context.Context, what string, check func(context.Context) error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		if last == nil || ctx.Err() == nil {
			last = err // not "context deadline exceeded" from the final try
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (gave up: %w)", what, last, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// withDeadline gives ctx the setup timeout unless it has a deadline already.
func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, setupTimeout)
}

// nodeError is a check that failed on one node: its log may tell why.
type nodeError struct {
	node *server
	err  error
}

func (e *nodeError) Error() string { return e.node.addr + ": " + e.err.Error() }
func (e *nodeError) Unwrap() error { return e.err }

func nodeErrorf(n *server, format string, args ...any) error {
	return &nodeError{node: n, err: fmt.Errorf(format, args...)}
}

// withLog appends the log tail of the node err is about, if it is about
// one, and those of others.
func withLog(err error, others ...*server) error {
	var nodes []*server
	if ne, ok := errors.AsType[*nodeError](err); ok {
		nodes = append(nodes, ne.node)
	}
	for _, n := range others {
		if !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
	}
	for _, n := range nodes {
		err = fmt.Errorf("%w\n%s", err, n.logTail())
	}
	return err
}

// info returns the fields of one INFO section of n.
func (n *server) info(ctx context.Context, section string) (map[string]string, error) {
	raw, err := n.admin.Info(ctx, section).Result()
	if err != nil {
		return nil, nodeErrorf(n, "info %s: %w", section, err)
	}
	fields := map[string]string{}
	for line := range strings.Lines(raw) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

// role is "master" or "slave", as INFO replication of n says.
func (n *server) role(ctx context.Context) (string, error) {
	r, err := n.info(ctx, "replication")
	if err != nil {
		return "", err
	}
	return r["role"], nil
}

// linkedReplica checks that replica n is connected to its master and done
// with the initial sync, and returns the replication offset it applied.
func (n *server) linkedReplica(ctx context.Context) (int64, error) {
	r, err := n.info(ctx, "replication")
	if err != nil {
		return 0, err
	}
	switch {
	case r["role"] != "slave":
		return 0, nodeErrorf(n, "role %q, want slave", r["role"])
	case r["master_link_status"] != "up":
		return 0, nodeErrorf(n, "link to master %s:%s is %q", r["master_host"], r["master_port"], r["master_link_status"])
	case r["master_sync_in_progress"] != "0":
		return 0, nodeErrorf(n, "initial sync from master %s:%s in progress", r["master_host"], r["master_port"])
	}
	off, err := strconv.ParseInt(r["slave_repl_offset"], 10, 64)
	if err != nil {
		return 0, nodeErrorf(n, "slave_repl_offset: %w", err)
	}
	return off, nil
}

// waitReplicated waits until every replica has applied all that master had
// written when it was called. Replication is asynchronous: a write the
// master acknowledged is lost if the master dies before a replica has it.
func waitReplicated(ctx context.Context, master *server, replicas []*server) error {
	r, err := master.info(ctx, "replication")
	if err != nil {
		return err
	}
	want, err := strconv.ParseInt(r["master_repl_offset"], 10, 64)
	if err != nil {
		return nodeErrorf(master, "master_repl_offset: %w", err)
	}
	for _, rep := range replicas {
		err := waitFor(ctx, fmt.Sprintf("replica %s catching up with master %s", rep.addr, master.addr), func(ctx context.Context) error {
			have, err := rep.linkedReplica(ctx)
			if err == nil && have < want {
				err = nodeErrorf(rep, "applied offset %d of master's %d", have, want)
			}
			return err
		})
		if err != nil {
			return withLog(err)
		}
	}
	return nil
}
