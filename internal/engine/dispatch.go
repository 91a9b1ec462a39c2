package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/trainyard/trainyard/internal/command"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/store"
	"github.com/trainyard/trainyard/internal/train"
)

// Dispatch does what one forge event asks, waiting for busy trains: a
// command, or observations for the train it concerns. Events about
// trains that do not exist are ignored. Handling an event twice changes
// nothing the second time.
func (e *Engine) Dispatch(ctx context.Context, ev event.Event) error {
	jobs, err := e.Jobs(ctx, ev)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if j.Command != nil {
			err = e.dispatchComment(ctx, *j.Command)
		} else {
			err = e.handleExisting(ctx, j)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Jobs says what an event asks of which trains, without reading the forge
// or taking a lease: what the forge must be asked is read under the
// lease, where no other worker can make the answer stale.
func (e *Engine) Jobs(ctx context.Context, ev event.Event) ([]Job, error) {
	one := func(key train.Key, obs ...train.Observation) []Job { return []Job{{Key: key, Obs: obs}} }
	switch ev.Kind {
	case event.KindComment:
		parsed := command.Parse(ev.Body)
		if parsed.Ignored() {
			return nil, nil
		}
		return []Job{{Key: train.Key{Forge: ev.Forge, Project: ev.Project}, Command: &ev, parsed: &parsed}}, nil
	case event.KindMR:
		key := train.Key{Forge: ev.Forge, Project: ev.Project, Branch: ev.TargetBranch}
		if ev.Action == event.ActionRetarget {
			key.Branch = ev.OldTargetBranch
		}
		// A stacked MR's events name its parent's branch: its train is
		// the stack's.
		if root, err := e.store.Mark(ctx, stackName(key, ev.MR)); err != nil {
			return nil, err
		} else if root != "" {
			key.Branch = root
		}
		switch ev.Action {
		case event.ActionUpdate:
			if ev.HeadSHA == "" {
				return nil, nil
			}
			return one(key, train.HeadChanged{MR: ev.MR, HeadSHA: ev.HeadSHA}), nil
		case event.ActionClose:
			return one(key, train.Closed{MR: ev.MR}), nil
		case event.ActionMerge:
			return one(key, train.Closed{MR: ev.MR, Merged: true}), nil
		case event.ActionRetarget:
			return one(key, train.Retargeted{MR: ev.MR, Branch: ev.TargetBranch}), nil
		}
		return nil, nil
	case event.KindPipeline:
		if e.cfg.Profile.PipelinesBySHA {
			return e.checkJobs(ctx, ev)
		}
		branch, mr, ok := e.parseCarBranch(ev.Ref)
		if !ok || ev.Pipeline == 0 {
			return nil, nil // not one of ours
		}
		key := train.Key{Forge: ev.Forge, Project: ev.Project, Branch: branch}
		var obs train.Observation = train.PipelineStatus{Pipeline: ev.Pipeline, SHA: ev.SHA, Status: ev.Status}
		if mrs, ok, err := e.pushedPipeline(ctx, ev, branch); err != nil {
			return nil, fmt.Errorf("pipeline %d of %s: %w", ev.Pipeline, ev.Project, err)
		} else if ok {
			obs = train.PipelineFound{MR: mr, SHA: ev.SHA, Pipeline: ev.Pipeline, Status: ev.Status, MRs: mrs}
		}
		jobs := one(key, obs)
		if ev.Status.Done() {
			jobs[0].urgent = e.resultUrgent(ctx, key, ev.SHA)
			jobs[0].results = []string{ev.SHA}
		}
		return jobs, nil
	case event.KindPush:
		if _, _, ok := e.parseCarBranch(ev.Ref); ok {
			return nil, nil // our own car pushes
		}
		// Push hooks can arrive out of order; the forge knows the head
		// now, read under the lease.
		return []Job{{Key: train.Key{Forge: ev.Forge, Project: ev.Project, Branch: ev.Ref}, Head: true, pushed: ev.After}}, nil
	}
	return nil, fmt.Errorf("dispatch event %s: unknown kind %q", ev.ID, ev.Kind)
}

// commandKeep is how long a command is remembered as done: longer than
// any redelivery or catch-up can bring it back.
const commandKeep = 30 * 24 * time.Hour

// dispatchComment acts on the command of a comment once, waiting for its
// train: what direct callers use.
func (e *Engine) dispatchComment(ctx context.Context, ev event.Event) error {
	jobs, err := e.command(ctx, ev, nil)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := e.handle(ctx, j, j.create); err != nil {
			return err
		}
	}
	return nil
}

// command acts on the command of a comment once, however often the
// comment comes (two deliveries, or a delivery and the catch-up): the
// command is locked while it reads the forge and decides, and marked done
// once what it decided is done, by the last of the jobs it returns for
// its train, or at once if it returns none. Every reply is keyed by the
// comment, and the planner knows a command it has seen, so a crash or a
// second delivery in between repeats the work and not the answer.
// parsed is the comment's command when Jobs parsed it already: a body of
// pathological Markdown, which anyone who can comment may post, is
// parsed once per delivery.
func (e *Engine) command(ctx context.Context, ev event.Event, parsed *command.Result) ([]Job, error) {
	if parsed == nil {
		p := command.Parse(ev.Body)
		parsed = &p
	}
	if parsed.Ignored() {
		return nil, nil
	}
	id := ev.CommandID()
	if done, err := e.store.CommandDone(ctx, id); err != nil || done {
		return nil, err
	}
	release, err := e.lockCommand(ctx, id)
	if err != nil {
		return nil, err
	}
	defer release()
	if done, err := e.store.CommandDone(ctx, id); err != nil || done {
		return nil, err // done by the worker that held the lock
	}
	jobs, err := e.runComment(ctx, ev, *parsed)
	if err != nil && !errors.Is(err, forge.ErrNotFound) {
		return nil, err
	}
	finish := func(ctx context.Context) error { return e.store.FinishCommand(ctx, id, commandKeep) }
	if len(jobs) == 0 || err != nil {
		if ferr := finish(ctx); ferr != nil {
			return nil, ferr
		}
		return nil, err // not found: what the command is about is gone, and the worker settles it
	}
	last := &jobs[len(jobs)-1]
	last.done = append(last.done, finish)
	return jobs, nil
}

// commentEvent keys the replies to a comment, so each is posted once.
func commentEvent(ev event.Event) string {
	if ev.CommentID == 0 {
		return ev.ID
	}
	return "note:" + strconv.FormatInt(ev.CommentID, 10)
}

// runComment checks that the author may use the train, then answers, or
// says what the command asks of its train. Nothing the author wrote is
// repeated before that check.
func (e *Engine) runComment(ctx context.Context, ev event.Event, parsed command.Result) ([]Job, error) {
	r := Request{Forge: ev.Forge, Project: ev.Project, MR: ev.MR, UserID: ev.User.ID, Username: ev.User.Username, Event: commentEvent(ev)}
	need, what := e.cfg.Policy.MinAccess(ev.Project), "Using the merge train"
	if c := parsed.Command; c != nil {
		switch c.Verb {
		case command.Pause, command.Resume:
			need, what = max(need, e.cfg.Policy.PauseRole(ev.Project)), "Pausing or resuming the merge train"
		case command.Freeze, command.Unfreeze:
			need, what = max(need, e.cfg.Policy.PauseRole(ev.Project)), "Freezing or unfreezing the merge train"
		case command.Add, command.Retry:
			if c.Priority == train.PriorityUrgent || c.Priority == train.PriorityHigh {
				need, what = max(need, e.cfg.Policy.PriorityRole(ev.Project)), "Adding with `--priority "+string(c.Priority)+"`"
			}
		}
	}
	if err := e.authorizeFor(ctx, r, need, what); errors.Is(err, ErrRefused) {
		return nil, nil // told so once
	} else if err != nil {
		return nil, err
	}
	r.Trusted = true // checked just now
	if parsed.Reply != "" {
		return nil, e.comment(ctx, ev.Project, ev.MR, "reply:"+r.Event, parsed.Reply)
	}
	c := parsed.Command
	r.Priority, r.Method = c.Priority, c.Method
	var j Job
	var err error
	switch c.Verb {
	case command.Add:
		j, err = e.addJob(ctx, r)
	case command.Remove:
		j, err = e.removeJob(ctx, r)
	case command.Retry:
		j, err = e.retryJob(ctx, r)
	case command.Status:
		err = e.Status(ctx, r)
	case command.Pause:
		j, err = e.pauseJob(ctx, r, true)
	case command.Resume:
		j, err = e.pauseJob(ctx, r, false)
	case command.Freeze:
		j, err = e.steerJob(ctx, r, "freeze", train.Froze{By: r.Username, Reason: c.Reason},
			func(branch string) string {
				return fmt.Sprintf("Froze the merge train for %s: %s. Cars are still built and tested; nothing merges until `%s unfreeze`.",
					train.Quote(branch), train.Quote(c.Reason), command.Prefix)
			}, nil)
	case command.Unfreeze:
		j, err = e.steerJob(ctx, r, "unfreeze", train.Unfroze{By: r.Username},
			func(branch string) string {
				return fmt.Sprintf("Lifted the freeze of the merge train for %s: what passed merges now.", train.Quote(branch))
			}, func(t train.Train) string {
				if t.Frozen != nil {
					return ""
				}
				return fmt.Sprintf("The merge train for %s is not frozen; nothing changed.", train.Quote(t.Branch))
			})
	case command.Help:
		err = e.comment(ctx, ev.Project, ev.MR, "reply:"+r.Event, command.Usage())
	default:
		err = fmt.Errorf("comment on !%d of %s: command %q not handled", ev.MR, ev.Project, c.Verb)
	}
	switch {
	case errors.Is(err, ErrRefused):
		return nil, nil // the user was told why
	case err != nil || j.Key.Branch == "":
		return nil, err
	}
	return []Job{j}, nil
}

// pauseJob is the job that pauses or resumes the train of the MR's target
// branch and says so on the MR; none, and a reply, when there is no
// such train.
func (e *Engine) pauseJob(ctx context.Context, r Request, pause bool) (Job, error) {
	if pause {
		return e.steerJob(ctx, r, "pause", train.Paused{By: r.Username}, func(branch string) string {
			return fmt.Sprintf("Paused the merge train for %s: nothing new starts or merges until `%s resume`; pipelines already running go on.",
				train.Quote(branch), command.Prefix)
		}, func(t train.Train) string {
			if !t.Paused {
				return ""
			}
			return fmt.Sprintf("The merge train for %s is paused already; nothing changed.", train.Quote(t.Branch))
		})
	}
	return e.steerJob(ctx, r, "resume", train.Resumed{By: r.Username}, func(branch string) string {
		return fmt.Sprintf("Resumed the merge train for %s.", train.Quote(branch))
	}, func(t train.Train) string {
		if t.Paused {
			return ""
		}
		return fmt.Sprintf("The merge train for %s is not paused; nothing changed.", train.Quote(t.Branch))
	})
}

// steerJob is the job that gives obs to the train of the MR's target
// branch and answers with reply(branch); none, and a reply, when there
// is no such train, or when already, given the train as it is, says obs
// would change nothing (a resume of a train not paused).
func (e *Engine) steerJob(ctx context.Context, r Request, verb string, obs train.Observation, reply func(branch string) string, already func(train.Train) string) (Job, error) {
	mr, err := e.forge.MergeRequest(ctx, r.Project, r.MR)
	if err != nil {
		return Job{}, fmt.Errorf("%s the train of !%d of %s: %w", verb, r.MR, r.Project, err)
	}
	key, err := e.trainOf(ctx, r, mr)
	if err != nil {
		return Job{}, err
	}
	t, err := e.store.Load(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return Job{}, e.comment(ctx, r.Project, r.MR, "reply:"+r.Event, fmt.Sprintf("There is no merge train for %s yet.", train.Quote(key.Branch)))
	}
	if err != nil {
		return Job{}, err
	}
	// Read outside the lease: a command that would change nothing is only
	// answered. One racing another the other way finds the train as it
	// asks, and is told so; nothing is lost, as it changed nothing.
	if already != nil {
		if msg := already(t); msg != "" {
			return Job{}, e.comment(ctx, r.Project, r.MR, "reply:"+r.Event, msg)
		}
	}
	text := reply(key.Branch)
	return Job{Key: key, Obs: []train.Observation{obs}, after: []afterFunc{func(ctx context.Context, _ train.Train) ([]train.Observation, error) {
		return nil, e.comment(ctx, r.Project, r.MR, "reply:"+r.Event, text)
	}}}, nil
}

// handleExisting does a job for a train that exists, and ignores it
// otherwise, so forge events never create trains.
func (e *Engine) handleExisting(ctx context.Context, j Job) error {
	if err := e.handle(ctx, j, false); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// parseCarBranch reads <prefix>/<target>/<iid>; targets may hold slashes.
func (e *Engine) parseCarBranch(ref string) (target string, mr int64, ok bool) {
	rest, found := strings.CutPrefix(ref, e.cfg.CarPrefix+"/")
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return "", 0, false
	}
	mr, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || mr <= 0 {
		return "", 0, false
	}
	return rest[:i], mr, true
}

// Status replies on the MR with its place and state on the train.
func (e *Engine) Status(ctx context.Context, r Request) error {
	mr, err := e.forge.MergeRequest(ctx, r.Project, r.MR)
	if err != nil {
		return fmt.Errorf("status of !%d of %s: %w", r.MR, r.Project, err)
	}
	key, err := e.trainOf(ctx, r, mr)
	if err != nil {
		return err
	}
	ctx = forge.ForBranch(ctx, key.Branch)
	t, err := e.load(ctx, key)
	if err != nil {
		return err
	}
	text := e.statusText(ctx, t, r.MR)
	if c := t.Repo; c != nil && c.Error != "" {
		// What the operator's and the repository's settings say is news
		// to whoever asks why the train behaves as it does.
		text += fmt.Sprintf("\n\nThe repository's `%s` at %.12s is not valid, so the train keeps its last good settings:\n\n~~~~\n%s\n~~~~",
			repoFileName(e, t.Key), c.Commit, strings.ReplaceAll(c.Error, "~~~~", "~ ~ ~ ~"))
	}
	return e.comment(ctx, r.Project, r.MR, "reply:"+r.Event, text)
}

func (e *Engine) statusText(ctx context.Context, t train.Train, mr int64) string {
	i := t.Index(mr)
	if k := t.InLanesIndex(mr); i < 0 && k >= 0 {
		return train.InLanesText(t.Branch, t.InLanes[k])
	}
	if i < 0 {
		return fmt.Sprintf("This merge request is not on the merge train for %s.", train.Quote(t.Branch))
	}
	c := t.Cars[i]
	var b strings.Builder
	fmt.Fprintf(&b, "Position %d of %d on the merge train for %s", i+1, len(t.Cars), train.Quote(t.Branch))
	if t.Paused {
		b.WriteString(" (the train is paused)")
	}
	if h, held := t.Hold(e.now()); held {
		fmt.Fprintf(&b, " (nothing merges while %s)", e.holdText(h))
	}
	fmt.Fprintf(&b, ": %s", e.describe(t, i))
	if len(c.Lanes) > 0 {
		fmt.Fprintf(&b, ", touching lanes %s", train.QuoteAll(c.Lanes))
	}
	if c.Pipeline != 0 {
		// Only a failed pipeline's name needs its verdict (GitHub lists
		// the checks that failed): a running one is named as if it passed,
		// with no read of the forge.
		running := c.State == train.StatePassed || c.State == train.StateRunning
		fmt.Fprintf(&b, ", %s", e.pipelineText(ctx, t.Project, train.Span{Pipeline: c.Pipeline, Passed: running}))
	}
	b.WriteString(".")
	return b.String()
}

func (e *Engine) describe(t train.Train, i int) string {
	c := t.Cars[i]
	if c.Suspect != 0 {
		return describeSuspect(c)
	}
	switch c.State {
	case train.StateQueued:
		return "waiting for the cars ahead"
	case train.StateBuilt:
		if with := t.RidesWith(i); with != 0 {
			return "tested in one batch with the merge requests up to " + e.cfg.Profile.Label(with) + ", by that one's pipeline"
		}
		return "its merged commit is being built"
	case train.StateBuilding:
		return "its merged commit is being built"
	case train.StateStarting:
		return "its pipeline is starting"
	case train.StateRunning:
		return "its pipeline is running"
	case train.StatePassed:
		return "its pipeline passed; it merges with the cars ahead"
	case train.StateFailed:
		return "its pipeline failed; a pipeline behind it that carries it passed, so it merges with that one"
	}
	return string(c.State)
}

// describeSuspect tells where the test of a car whose pipeline failed has
// got to.
func describeSuspect(c train.Car) string {
	switch {
	case c.Witness != nil && c.Witness.Status == "" && c.State == train.StateFailed:
		return "its pipeline failed; the pipeline behind it, which carries it too, will tell whether the failure is its own"
	case c.State == train.StatePassed:
		return "a pipeline that carried it failed, but it passed when tested on its own; it goes back on the train"
	case c.State == train.StateFailed:
		return "a pipeline that carried it failed, and so did its own test; it leaves once the merge requests ahead of it pass"
	}
	return "a pipeline that carried it failed; it is being tested again without the merge requests behind it"
}

// estimate is a recent pipeline duration of the train, for replies.
func (e *Engine) estimate(ctx context.Context, key train.Key) time.Duration {
	hist, err := e.store.History(ctx, key, train.HistoryForEstimate)
	if err != nil {
		e.log.Warn("read history for an estimate", zap.String("train", key.String()), zap.Error(err))
		return 0
	}
	return train.PipelineDuration(hist)
}
