package engine

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/train"
)

// RepoFiles is what a Policy knows of repositories' own settings files.
// A Policy without it leaves them unread.
type RepoFiles interface {
	// RepoFile names the file and bounds its size; "" when key's trains
	// do not read one.
	RepoFile(key train.Key) (name string, limit int64)
	// RepoSettings returns key's settings with the file's content on
	// top, or why the content is refused.
	RepoSettings(key train.Key, data string) (train.Settings, error)
}

// repoFileName is the name of key's repository file, for people.
func repoFileName(e *Engine, key train.Key) string {
	if rf, ok := e.cfg.Policy.(RepoFiles); ok {
		if name, _ := rf.RepoFile(key); name != "" {
			return name
		}
	}
	return "repository settings file"
}

// fileReader reads a file of a commit in the mirror.
type fileReader interface {
	ReadFile(ctx context.Context, commit, path string, limit int64) ([]byte, bool, error)
}

// applySettings sets t's settings from the policy and the repository
// file the train last read (an empty one when the branch has none, which
// undoes what a file set before). A file that the policy now refuses
// (its configuration changed) is left out rather than stopping the train.
func (e *Engine) applySettings(ctx context.Context, t *train.Train) {
	t.Settings = e.settings(ctx, t.Key)
	rf, ok := e.cfg.Policy.(RepoFiles)
	if _, _, lane := e.laneOf(t.Key); !ok || t.Repo == nil || lane {
		return
	}
	if name, _ := rf.RepoFile(t.Key); name == "" {
		return
	}
	if s, err := rf.RepoSettings(t.Key, t.Repo.Data); err == nil {
		t.Settings = s.WithDefaults().Integrating()
	}
}

// readRepoFile reads the repository file at the target head when the
// train has not read it there yet, and says what it found. It reads only
// the mirror: a head the mirror lacks is read on a later pass.
func (e *Engine) readRepoFile(ctx context.Context, log *zap.Logger, t train.Train) (train.Observation, bool) {
	rf, ok := e.cfg.Policy.(RepoFiles)
	if !ok || e.repos == nil || t.TargetHead == "" || (t.Repo != nil && t.Repo.Commit == t.TargetHead) {
		return nil, false
	}
	if _, _, lane := e.laneOf(t.Key); lane {
		return nil, false // a lane's train follows the target's settings
	}
	name, limit := rf.RepoFile(t.Key)
	if name == "" {
		return nil, false
	}
	repo, err := e.repos.Repo(ctx, t.Project)
	if err != nil {
		return nil, false
	}
	files, ok := repo.(fileReader)
	if !ok || !repo.HasCommit(ctx, t.TargetHead) {
		return nil, false
	}
	head := t.TargetHead
	at := readAt(ctx, files, head, name, limit)
	c := train.RepoConfig{Commit: head}
	var prev train.RepoConfig
	if t.Repo != nil {
		prev = *t.Repo
		c.Data, c.GoodAt = prev.Data, prev.GoodAt
	}
	switch {
	case at.err != nil:
		// Too large, or not a file: refused like a bad one.
		c.Error = at.err.Error()
	case !at.found:
		c.Data, c.GoodAt = "", head
	case at.data == prev.Data:
		c.GoodAt = head
	default:
		if _, err := rf.RepoSettings(t.Key, at.data); err != nil {
			c.Error = brief(err)
		} else {
			c.Data, c.GoodAt = at.data, head
		}
	}
	if c.Error != "" && c.Error != prev.Error {
		// A new refusal is told to the MR whose merge brought the file;
		// the same one again, at a later head, is not.
		c.MR = e.brought(ctx, t, files, name, limit, at)
		log.Warn("repository file refused", zap.String("file", name), zap.String("commit", head), zap.Int64("mr", c.MR), zap.String("error", c.Error))
	}
	read := train.RepoFileRead{Config: c, Name: name}
	tt := t
	tt.Repo = &c
	e.applySettings(ctx, &tt)
	read.Settings = tt.Settings
	return read, true
}

// maxRefusal bounds why a file was refused, as comments and the train's
// record hold it.
const maxRefusal = 4 << 10

// brief is why a file was refused, short enough for a comment: an error
// that can say itself briefly (the configuration's, listing the first
// problems of many) does, and any text is cut to maxRefusal bytes.
func brief(err error) string {
	s := err.Error()
	if b, ok := errors.AsType[interface {
		error
		Brief() string
	}](err); ok {
		s = b.Brief()
	}
	return train.Clip(s, maxRefusal)
}

// fileAt is what reading the file at one commit gave.
type fileAt struct {
	data  string
	found bool
	err   error
}

func readAt(ctx context.Context, files fileReader, commit, name string, limit int64) fileAt {
	data, found, err := files.ReadFile(ctx, commit, name, limit)
	return fileAt{data: string(data), found: found, err: err}
}

// same reports whether two reads found the same file, or failed alike.
func (a fileAt) same(b fileAt) bool {
	return a.found == b.found && a.data == b.data && (a.err == nil) == (b.err == nil)
}

// brought finds the merged MR that brought the file as it is at the
// target head: of the cars merged last, newest first, the oldest of those
// whose commit holds that same file. Zero when the newest merge does not
// hold it (the branch was pushed to outside the train).
func (e *Engine) brought(ctx context.Context, t train.Train, files fileReader, name string, limit int64, head fileAt) int64 {
	recent, err := e.store.History(ctx, t.Key, 20)
	if err != nil {
		return 0
	}
	var mr int64
	for _, c := range recent {
		if c.State != train.StateMerged || c.Commit == "" {
			continue
		}
		if !readAt(ctx, files, c.Commit, name, limit).same(head) {
			break
		}
		mr = c.MR
	}
	return mr
}
