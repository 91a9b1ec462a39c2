package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// Request is a user's command about one MR.
type Request struct {
	Forge   string // "gitlab" or "github"
	Project string
	MR      int64
	// Branch, when set, is the train the user meant; an MR targeting
	// another branch is refused.
	Branch   string
	UserID   int64
	Username string
	// Via is the API token the command came through; empty for a comment.
	Via      string
	Priority train.Priority
	Method   train.Method
	// Event identifies the command (the webhook delivery or note), so its
	// reply is posted once.
	Event string
	// Trusted skips the access check: the caller (the API, behind its own
	// token) has authenticated the user already.
	Trusted bool
}

// ErrRefused is returned, wrapped, when a command was refused; the reason
// was posted on the MR.
var ErrRefused = errors.New("refused")

// Add puts an MR on the train for its target branch after checking that
// the user may and that the MR can go; a refusal is explained on the MR.
func (e *Engine) Add(ctx context.Context, r Request) error {
	return e.request(ctx, r, e.addJob)
}

// Retry rebuilds an MR's car, or puts the MR back on the train.
func (e *Engine) Retry(ctx context.Context, r Request) error {
	return e.request(ctx, r, e.retryJob)
}

// Remove takes an MR off the train for its target branch.
func (e *Engine) Remove(ctx context.Context, r Request) error {
	return e.request(ctx, r, e.removeJob)
}

// request does at once, waiting for the train, the job a command makes.
func (e *Engine) request(ctx context.Context, r Request, job func(context.Context, Request) (Job, error)) error {
	j, err := job(ctx, r)
	if err != nil {
		return err
	}
	return e.handle(ctx, j, j.create)
}

// addJob is the job that puts an MR on its train, once admitted.
func (e *Engine) addJob(ctx context.Context, r Request) (Job, error) {
	a, err := e.admit(ctx, r)
	if err != nil {
		return Job{}, err
	}
	mr, key := a.mr, a.key
	if other, err := e.onOtherTrain(ctx, key, r.MR); err != nil {
		return Job{}, err
	} else if other != "" {
		return Job{}, e.refuse(ctx, r, fmt.Sprintf("This merge request is already on the merge train for %s; remove it there first.", train.Quote(other)))
	}
	return Job{Key: key, create: true, headIfIdle: true, Obs: []train.Observation{train.Added{
		MR: r.MR, HeadSHA: mr.HeadSHA, Title: mr.Title, Source: mr.SourceBranch,
		By: r.Username, Via: r.Via, Priority: r.Priority, Method: r.Method, Event: r.Event,
		Estimate: e.estimate(ctx, key), DependsOn: a.deps, Stacked: a.stacked,
		Lanes: e.lanesAtAdd(ctx, key, r.MR, mr.HeadSHA),
	}}, after: []afterFunc{e.markStack(a), e.recheckHead(r.MR, mr.HeadSHA), e.findLanes(r.MR, mr.HeadSHA)}}, nil
}

// retryJob is the job that rebuilds an MR's car or puts it back.
func (e *Engine) retryJob(ctx context.Context, r Request) (Job, error) {
	a, err := e.admit(ctx, r)
	if err != nil {
		return Job{}, err
	}
	mr := a.mr
	return Job{Key: a.key, create: true, headIfIdle: true, Obs: []train.Observation{train.Retried{Added: train.Added{
		MR: r.MR, HeadSHA: mr.HeadSHA, Title: mr.Title, Source: mr.SourceBranch,
		By: r.Username, Via: r.Via, Priority: r.Priority, Method: r.Method, Event: r.Event,
		DependsOn: a.deps, Stacked: a.stacked, Lanes: e.lanesAtAdd(ctx, a.key, r.MR, mr.HeadSHA),
	}}}, after: []afterFunc{e.markStack(a), e.recheckHead(r.MR, mr.HeadSHA), e.findLanes(r.MR, mr.HeadSHA)}}, nil
}

// removeJob is the job that takes an MR off its train.
func (e *Engine) removeJob(ctx context.Context, r Request) (Job, error) {
	mr, err := e.forge.MergeRequest(ctx, r.Project, r.MR)
	if err != nil {
		return Job{}, fmt.Errorf("remove !%d of %s: %w", r.MR, r.Project, err)
	}
	if err := e.authorize(ctx, r); err != nil {
		return Job{}, err
	}
	key, err := e.trainOf(ctx, r, mr)
	if err != nil {
		return Job{}, err
	}
	// A train is made for the MR's own branch, whose reply says the MR
	// is not on it, where that branch may have one at all (an API caller
	// may name any project the forge token sees); a branch the caller
	// names must have one already.
	create := e.cfg.Policy.BranchAllowed(r.Project, key.Branch)
	if !create && r.Branch == "" && r.Via == "" {
		// A comment (the API's calls come through a token) is answered
		// as an add there would be, unless a train is there from before
		// the branch was dropped from the configuration: its cars can
		// still be taken off.
		ok, err := e.store.Exists(ctx, key)
		if err != nil {
			return Job{}, err
		}
		if !ok {
			return Job{}, e.refuse(ctx, r, fmt.Sprintf("Merge trains are not enabled for %s in %s.", train.Quote(key.Branch), r.Project))
		}
	}
	if r.Branch != "" {
		key.Branch, create = r.Branch, false
	}
	return Job{Key: key, create: create, Obs: []train.Observation{train.Removed{MR: r.MR, By: r.Username, Via: r.Via, Event: r.Event}}}, nil
}

// stackKeep is how long a stacked MR's events are routed to its stack's
// train: longer than any MR stays on one.
const stackKeep = 30 * 24 * time.Hour

// stackName names the mark that routes the events of an MR stacked on
// the branch of key to its stack's train.
func stackName(key train.Key, mr int64) string {
	return fmt.Sprintf("stack:%s:%d", key, mr)
}

// trainOf is the key of the train an MR's commands are for: its target
// branch's, or for an MR stacked on another, the stack's.
func (e *Engine) trainOf(ctx context.Context, r Request, mr forge.MR) (train.Key, error) {
	key := train.Key{Forge: r.Forge, Project: r.Project, Branch: mr.TargetBranch}
	root, err := e.store.Mark(ctx, stackName(key, r.MR))
	if root != "" {
		key.Branch = root
	}
	return key, err
}

// markStack routes a stacked MR's webhooks, which name the branch it
// targets, to the train it joined.
func (e *Engine) markStack(a admission) afterFunc {
	return func(ctx context.Context, t train.Train) ([]train.Observation, error) {
		if a.stacked == "" || t.Index(a.mr.IID) < 0 {
			return nil, nil
		}
		from := train.Key{Forge: t.Forge, Project: t.Project, Branch: a.stacked}
		return nil, e.store.SetMark(ctx, stackName(from, a.mr.IID), t.Branch, stackKeep)
	}
}

// seenKeep is how long the head of an MR not on its train is remembered:
// longer than any command takes between reading an MR and its train's
// lease.
const seenKeep = 10 * time.Minute

// seenName names the mark of the last head seen of an MR not on its
// train.
func seenName(key train.Key, mr int64) string {
	return fmt.Sprintf("seen:%s!%d", strings.ToLower(key.String()), mr)
}

// recheckHead makes sure an MR just added has the head it was added at:
// commits pushed between the read that added it and the train's lease
// were news of an MR not on the train yet, which the pass dropped after
// marking the head it saw. Only a mark of another head costs a read of
// the MR again, which tells which head is the newer.
func (e *Engine) recheckHead(iid int64, added string) afterFunc {
	return func(ctx context.Context, t train.Train) ([]train.Observation, error) {
		seen, err := e.store.Mark(ctx, seenName(t.Key, iid))
		if err != nil || seen == "" || seen == added {
			return nil, err
		}
		mr, err := e.forge.MergeRequest(ctx, t.Project, iid)
		if err != nil {
			return nil, fmt.Errorf("re-read !%d of %s: %w", iid, t.Project, err)
		}
		if mr.HeadSHA == "" || mr.HeadSHA == added {
			return nil, nil
		}
		return []train.Observation{train.HeadChanged{MR: iid, HeadSHA: mr.HeadSHA}}, nil
	}
}

// targetHead reads the target's head, so that a car can be built at once
// rather than after the next sweep. A head the train knows already changes
// nothing. Read it under the train's lease (a job's Head).
func (e *Engine) targetHead(ctx context.Context, key train.Key) (train.TargetHead, error) {
	head, err := e.forge.BranchHead(ctx, key.Project, key.Branch)
	if err != nil {
		return train.TargetHead{}, fmt.Errorf("train %s: read the head of %s: %w", key, key.Branch, err)
	}
	return train.TargetHead{SHA: head}, nil
}

// fetchedHead reads the target's head by fetching it into the mirror, for
// an idle train about to build its first car: the build needs the commit
// in the mirror anyway, so this costs no API request and no later fetch.
// Without a mirror, or if the fetch fails, the forge's API is read.
func (e *Engine) fetchedHead(ctx context.Context, key train.Key) (train.TargetHead, error) {
	if e.repos != nil {
		if repo, err := e.repos.Repo(ctx, key.Project); err == nil {
			if sha, err := repo.FetchBranch(ctx, key.Branch); err == nil && sha != "" {
				return train.TargetHead{SHA: sha}, nil
			}
		}
	}
	return e.targetHead(ctx, key)
}

// behind tells whether head, read from the forge, is a strict ancestor of
// the head the train holds: a read older than a fast-forward the train
// saw (a lagging replica of the forge, a late answer). Taking it would
// rebuild every car on the old head. A head moved back on purpose (a
// force push) is learnt anyway: the next fast-forward is refused and
// reports the real head. Without both commits in the mirror, the head is
// taken as it is.
func (e *Engine) behind(ctx context.Context, t train.Train, head string) bool {
	if head == "" || t.TargetHead == "" || head == t.TargetHead || e.repos == nil {
		return false
	}
	repo, err := e.repos.Repo(ctx, t.Project)
	if err != nil || !repo.HasCommit(ctx, head) || !repo.HasCommit(ctx, t.TargetHead) {
		return false
	}
	older, err := repo.IsAncestor(ctx, head, t.TargetHead)
	return err == nil && older
}

// Actor is who steers a train: a user, an API token, or a user through a
// token.
type Actor struct {
	User  string
	Token string
}

// Pause stops a train from starting or merging anything; what runs goes
// on. It fails with store.ErrNotFound for a train that does not exist.
func (e *Engine) Pause(ctx context.Context, key train.Key, by Actor) error {
	return e.existing(ctx, key, train.Paused{By: by.User, Via: by.Token})
}

// Resume undoes Pause.
func (e *Engine) Resume(ctx context.Context, key train.Key, by Actor) error {
	return e.existing(ctx, key, train.Resumed{By: by.User, Via: by.Token})
}

// Freeze holds a train's target with a reason: cars are still built and
// tested, nothing merges until Unfreeze. It fails with store.ErrNotFound
// for a train that does not exist.
func (e *Engine) Freeze(ctx context.Context, key train.Key, by Actor, reason string) error {
	return e.existing(ctx, key, train.Froze{By: by.User, Via: by.Token, Reason: reason})
}

// Unfreeze lifts Freeze.
func (e *Engine) Unfreeze(ctx context.Context, key train.Key, by Actor) error {
	return e.existing(ctx, key, train.Unfroze{By: by.User, Via: by.Token})
}

// Drain turns draining on or off: a draining train finishes the cars on
// it and refuses new ones.
func (e *Engine) Drain(ctx context.Context, key train.Key, by Actor, on bool) error {
	return e.existing(ctx, key, train.Drain{On: on, By: by.User, Via: by.Token})
}

// Trains lists every train in the store, of every forge: engines of
// several forges may share one store.
func (e *Engine) Trains(ctx context.Context) ([]train.Key, error) {
	return e.store.List(ctx)
}

// History returns the cars that left a train, newest first.
func (e *Engine) History(ctx context.Context, key train.Key, limit int64) ([]train.Car, error) {
	return e.store.History(ctx, key, limit)
}

// admission is an MR that may go on a train: the MR, its train, what it
// depends on and the branch it is stacked on.
type admission struct {
	mr      forge.MR
	key     train.Key
	deps    []train.Dep
	stacked string
}

// admit checks that an MR may go on a train and returns it with the key of
// its train.
func (e *Engine) admit(ctx context.Context, r Request) (admission, error) {
	mr, key, err := e.admitMR(ctx, r)
	if err != nil {
		return admission{}, err
	}
	// A stacked MR joins its stack root's train: the branch is checked
	// once that is known.
	key, deps, stacked, err := e.dependencies(ctx, r, mr, key)
	if err != nil {
		return admission{}, err
	}
	if err := e.admitTo(ctx, r, key.Branch); err != nil {
		return admission{}, err
	}
	if stacked != "" && e.enforcing(r.Project) {
		// Its rules were read for the branch it targets: it merges into
		// the root's, whose rules it must meet too.
		rules, err := e.readRules(ctx, r.Project, r.MR, key.Branch)
		if err != nil {
			return admission{}, fmt.Errorf("add !%d of %s: %w", r.MR, r.Project, err)
		}
		if !rules.Met() {
			return admission{}, e.refuse(ctx, r, msgRulesRefused(key.Branch, rules))
		}
	}
	return admission{mr: mr, key: key, deps: deps, stacked: stacked}, nil
}

// admitMR checks the MR itself and the branch it targets.
func (e *Engine) admitMR(ctx context.Context, r Request) (forge.MR, train.Key, error) {
	// The rules are read first: where the forge gives the MR with them,
	// that is the one read of the MR.
	var rules forge.Rules
	enforce := e.enforcing(r.Project)
	if enforce {
		var err error
		if rules, err = e.readRules(ctx, r.Project, r.MR, ""); err != nil {
			// An unknown MR has nowhere to be told; the caller reports it.
			return forge.MR{}, train.Key{}, fmt.Errorf("add !%d of %s: %w", r.MR, r.Project, err)
		}
	}
	var mr forge.MR
	if rules.MR != nil {
		mr = *rules.MR
	} else {
		var err error
		if mr, err = e.forge.MergeRequest(ctx, r.Project, r.MR); err != nil {
			return mr, train.Key{}, fmt.Errorf("add !%d of %s: %w", r.MR, r.Project, err)
		}
	}
	if err := e.authorize(ctx, r); err != nil {
		return mr, train.Key{}, err
	}
	key := train.Key{Forge: r.Forge, Project: r.Project, Branch: mr.TargetBranch}
	switch {
	case mr.State != forge.StateOpened:
		return mr, key, e.refuse(ctx, r, fmt.Sprintf("This merge request is %s; only open merge requests can go on the merge train.", mr.State))
	case mr.Draft:
		return mr, key, e.refuse(ctx, r, "This merge request is a draft; mark it as ready before adding it to the merge train.")
	case mr.HeadSHA == "":
		return mr, key, e.refuse(ctx, r, "This merge request has no commits yet.")
	case e.underCars(mr.SourceBranch):
		// The car of such an MR would be pushed over its own source
		// branch, and what the forge reports for one would be read as
		// the other's.
		return mr, key, e.refuse(ctx, r, fmt.Sprintf("This merge request's source branch %s is under `%s/`, where Trainyard keeps its car branches; push it under another name.",
			train.Quote(mr.SourceBranch), e.cfg.CarPrefix))
	case e.underCars(mr.TargetBranch):
		return mr, key, e.refuse(ctx, r, fmt.Sprintf("This merge request targets %s, one of Trainyard's car branches; merge trains run only on other branches.",
			train.Quote(mr.TargetBranch)))
	case e.underLanes(mr.TargetBranch):
		return mr, key, e.refuse(ctx, r, fmt.Sprintf("This merge request targets %s, one of Trainyard's lane branches; merge trains run only on other branches.",
			train.Quote(mr.TargetBranch)))
	}
	if enforce && !rules.Met() {
		return mr, key, e.refuse(ctx, r, msgRulesRefused(mr.TargetBranch, rules))
	}
	return mr, key, nil
}

// underCars reports whether branch is in the car branches' namespace.
func (e *Engine) underCars(branch string) bool {
	return strings.HasPrefix(branch, e.cfg.CarPrefix+"/")
}

// admitTo checks that the MR may join the train of branch.
func (e *Engine) admitTo(ctx context.Context, r Request, branch string) error {
	switch {
	case r.Branch != "" && r.Branch != branch:
		return e.refuse(ctx, r, fmt.Sprintf("This merge request targets %s, not %s.", train.Quote(branch), train.Quote(r.Branch)))
	case !e.cfg.Policy.BranchAllowed(r.Project, branch):
		return e.refuse(ctx, r, fmt.Sprintf("Merge trains are not enabled for %s in %s.", train.Quote(branch), r.Project))
	}
	return nil
}

func (e *Engine) authorize(ctx context.Context, r Request) error {
	if r.Trusted {
		return nil
	}
	return e.authorizeFor(ctx, r, e.cfg.Policy.MinAccess(r.Project), "Using the merge train")
}

// authorizeFor checks that the user has need or more. One who has not
// gets one fixed line per MR, however many commands they post, and none
// of their words back: a stranger cannot make the bot say anything else.
func (e *Engine) authorizeFor(ctx context.Context, r Request, need forge.AccessLevel, what string) error {
	level, err := e.accessLevel(ctx, r.Project, r.UserID)
	if err != nil {
		return fmt.Errorf("access of %s to %s: %w", r.Username, r.Project, err)
	}
	if level >= need {
		return nil
	}
	reason := fmt.Sprintf("%s needs %s access or higher to %s.", what, e.cfg.Profile.Names.Role(need), r.Project)
	if err := e.comment(ctx, r.Project, r.MR, fmt.Sprintf("denied:%d", r.UserID), reason); err != nil {
		return err
	}
	return fmt.Errorf("!%d of %s: %w: %s", r.MR, r.Project, ErrRefused, reason)
}

// accessTTL is how long a user's access level is taken as read: long
// enough for a burst of commands to cost one read, short enough that a
// revoked role stops working within a minute.
const accessTTL = time.Minute

// accessCache remembers users' access levels, by project and user, in
// the process; the store keeps them for every replica.
type accessCache struct {
	mu sync.Mutex
	m  map[string]accessEntry
}

type accessEntry struct {
	level forge.AccessLevel
	at    time.Time
}

// accessLevel is the user's access to project, read from the forge at
// most once per accessTTL by all replicas together: a level one of them
// read is shared through the store, with the time it was read, so it
// is dropped everywhere a minute after that read.
func (e *Engine) accessLevel(ctx context.Context, project string, userID int64) (forge.AccessLevel, error) {
	k := forge.ProjectKey(project) + "\x00" + strconv.FormatInt(userID, 10)
	now := e.now()
	c := e.access
	c.mu.Lock()
	got, ok := c.m[k]
	c.mu.Unlock()
	if ok && now.Sub(got.at) < accessTTL {
		return got.level, nil
	}
	mark := "access:" + e.cfg.Profile.Name + ":" + k
	v, err := e.store.Mark(ctx, mark)
	if err != nil {
		return 0, err
	}
	got, ok = parseAccess(v)
	if !ok || now.Sub(got.at) >= accessTTL || got.at.After(now.Add(accessTTL)) {
		level, err := e.forge.AccessLevel(ctx, project, userID)
		if err != nil {
			return 0, err
		}
		got = accessEntry{level: level, at: now}
		if err := e.store.SetMark(ctx, mark, formatAccess(got), accessTTL); err != nil {
			return 0, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, old := range c.m {
		if now.Sub(old.at) >= accessTTL {
			delete(c.m, key)
		}
	}
	c.m[k] = got
	return got.level, nil
}

// formatAccess writes a level and when it was read as "level unixmilli".
func formatAccess(a accessEntry) string {
	return strconv.Itoa(int(a.level)) + " " + strconv.FormatInt(a.at.UnixMilli(), 10)
}

// parseAccess reads what formatAccess wrote; anything else is no entry.
func parseAccess(v string) (accessEntry, bool) {
	level, at, ok := strings.Cut(v, " ")
	if !ok {
		return accessEntry{}, false
	}
	l, err1 := strconv.Atoi(level)
	ms, err2 := strconv.ParseInt(at, 10, 64)
	if err1 != nil || err2 != nil {
		return accessEntry{}, false
	}
	return accessEntry{level: forge.AccessLevel(l), at: time.UnixMilli(ms)}, true
}

func (e *Engine) refuse(ctx context.Context, r Request, reason string) error {
	key := "refused:" + r.Event
	if r.Event == "" {
		key = fmt.Sprintf("refused:%d:%s", r.MR, e.now().UTC().Format("20060102T150405.000000000"))
	}
	if err := e.comment(ctx, r.Project, r.MR, key, reason); err != nil {
		return err
	}
	return fmt.Errorf("!%d of %s: %w: %s", r.MR, r.Project, ErrRefused, reason)
}

// onOtherTrain returns the branch of another train of the project that
// holds the MR, if any.
func (e *Engine) onOtherTrain(ctx context.Context, key train.Key, mr int64) (string, error) {
	keys, err := e.store.List(ctx)
	if err != nil {
		return "", fmt.Errorf("list trains: %w", err)
	}
	for _, k := range keys {
		// A lane's train tests MRs of its target's train: their own.
		owner := e.mrTarget(k)
		if owner == key || k.Forge != key.Forge || k.Project != key.Project {
			continue
		}
		t, err := e.store.Load(ctx, k)
		if err != nil {
			return "", fmt.Errorf("load train %s: %w", k, err)
		}
		if t.Index(mr) >= 0 || t.InLanesIndex(mr) >= 0 {
			return owner.Branch, nil
		}
	}
	return "", nil
}

// OpenMRs lists up to limit open MRs of project, the most recently
// updated first: what someone completing `train add` may want. Only a
// configured project's are listed, when the configuration names any.
func (e *Engine) OpenMRs(ctx context.Context, project string, limit int) ([]forge.MR, error) {
	if _, ok := e.configuredAs(project); len(e.cfg.Projects) > 0 && !ok {
		return nil, fmt.Errorf("list the open MRs of %s: the project is not configured: %w", project, forge.ErrNotFound)
	}
	l, ok := e.forge.(forge.OpenLister)
	if !ok {
		return nil, fmt.Errorf("list the open MRs of %s: %w", project, errors.ErrUnsupported)
	}
	return l.OpenMRs(ctx, project, limit)
}
