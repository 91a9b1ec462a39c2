package train

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The sentences MR authors read. Kept together so their tone stays one.

func msgAdded(branch string, pos int, eta time.Duration) string {
	msg := fmt.Sprintf("Added to the merge train for %s at position %d.", Quote(branch), pos)
	// Below five seconds the estimate would read "about 0s".
	if eta >= 5*time.Second {
		msg += fmt.Sprintf(" Expected to merge in about %s, judging by recent pipelines.", RoundDuration(eta))
	}
	return msg
}

// RoundDuration keeps two significant units, for estimates people
// read: "25m", "1h10m", "40s".
func RoundDuration(d time.Duration) string {
	switch {
	case d >= time.Hour:
		d = d.Round(10 * time.Minute)
	case d >= 10*time.Minute:
		d = d.Round(time.Minute)
	default:
		d = d.Round(10 * time.Second)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func msgAlreadyOnTrain(branch string, pos int) string {
	return fmt.Sprintf("This merge request is already on the merge train for %s, at position %d.", Quote(branch), pos)
}

func msgRepoFileRefused(name, branch, commit, why string) string {
	// The reason sits in a fenced block, which no fence inside it may close.
	return fmt.Sprintf("The `%s` this merge request brought to %s (at %s) is not valid, so the merge train keeps its last good settings until it is fixed:\n\n~~~~\n%s\n~~~~",
		name, Quote(branch), short(commit), strings.ReplaceAll(why, "~~~~", "~ ~ ~ ~"))
}

func msgDependsOnMissing(branch string, labels []string) string {
	return fmt.Sprintf("This merge request depends on %s, which must be on the merge train for %s first (or merged): add it, then add this one again.",
		strings.Join(labels, ", "), Quote(branch))
}

func msgDependencyLeft(label string) string {
	return "it depends on " + label + ", which left the train: "
}

func msgDraining(branch string) string {
	return fmt.Sprintf("The merge train for %s is draining: it finishes the merge requests on it and takes no new one for now.", Quote(branch))
}

func msgNotOnTrain(branch string) string {
	return fmt.Sprintf("This merge request is not on the merge train for %s.", Quote(branch))
}

func msgBeingMerged(branch string) string {
	return fmt.Sprintf("This merge request is being merged into %s right now; it can no longer be changed.", Quote(branch))
}

func msgRetrying(branch string) string {
	return fmt.Sprintf("Retrying: this merge request will be rebuilt and tested again on the merge train for %s.", Quote(branch))
}

func msgRetesting(branch string) string {
	return fmt.Sprintf("Retrying: a new pipeline tests this merge request again on the merge train for %s, on the same commit.", Quote(branch))
}

// msgRemovedBy names who removed the MR: a forge user by mention, an API
// token by name, never as a mention (a token's name is no one's account).
func msgRemovedBy(by, via string) string {
	switch {
	case via != "" && by != "" && by != via:
		return "it was removed from the train by @" + by + " with API token `" + via + "`"
	case via != "":
		return "it was removed from the train with API token `" + via + "`"
	case by == "":
		return "it was removed from the train"
	}
	return "it was removed from the train by @" + by
}

// actor is who a chat notice names: the user, and the API token when one
// was used.
func actor(by, via string) string {
	switch {
	case via == "" || by == via:
		return by
	case by == "":
		return "API token " + via
	}
	return by + " (API token " + via + ")"
}

func msgNewCommits(old, now string) string {
	return fmt.Sprintf("new commits were pushed (head moved from %s to %s); add it again to test the new head", short(old), short(now))
}

// maxConflictPaths is how many conflicting paths a message lists: a merge
// of two rewrites may conflict in thousands, and a comment must stay
// readable (and within the forge's size limit).
const maxConflictPaths = 20

// KeptConflictPaths is how many conflicting paths a car keeps in its
// reason, and so in the history: the first ones tell the author enough.
const KeptConflictPaths = 100

// msgConflict names the conflicting paths as code: a path is the MR
// author's text and may hold Markdown, mentions or HTML.
func msgConflict(branch string, first bool, paths []string) string {
	onto := Quote(branch) + " and the merge requests ahead of it"
	if first {
		onto = Quote(branch)
	}
	shown := make([]string, 0, min(len(paths), maxConflictPaths))
	for _, p := range paths[:min(len(paths), maxConflictPaths)] {
		shown = append(shown, Quote(p))
	}
	list := strings.Join(shown, ", ")
	switch more := len(paths) - len(shown); {
	case len(paths) >= KeptConflictPaths:
		// The list was cut where it was kept: there may be more.
		list += fmt.Sprintf(" and at least %d more", more)
	case more > 0:
		list += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Sprintf("it does not merge cleanly onto %s; conflicting paths: %s", onto, list)
}

// msgPipelineRefused quotes what the forge said: its words may repeat the
// MR's own text (a branch name, a CI variable).
func msgPipelineRefused(said string) string {
	const why = "the forge refused to start its pipeline (do the CI rules run pipelines on car branches?)"
	if strings.TrimSpace(said) == "" {
		return why
	}
	return why + ": " + Quote(said)
}

func msgPipelineFailed(pipeline int64, status PipelineState, attempts int) Text {
	word := "failed"
	if status == PipelineCanceled {
		word = "was cancelled"
	} else if status == PipelineSkipped {
		word = "was skipped"
	}
	tries := ""
	if attempts > 1 {
		tries = fmt.Sprintf(" (attempt %d)", attempts)
	}
	return Join(PipelineRef(pipeline), " "+word+tries)
}

// msgBisectFailed explains a failure confirmed by a second test: the MR
// was tested again, without the MRs behind it, after a pipeline that
// carried it failed.
func msgBisectFailed(failed Text, first int64) Text {
	return Join(failed, "; it tested this merge request again, without the ones behind it, after ", PipelineRef(first), " failed")
}

// msgWitnessFailed explains a failure confirmed by the pipeline of the
// car behind, which carried this MR too.
func msgWitnessFailed(failed Text, witness int64) Text {
	return Join(failed, ", and so did ", PipelineRef(witness), ", which tested it with the merge requests behind it")
}

func msgTimeout(pipeline int64, limit time.Duration) Text {
	return Join(PipelineRef(pipeline), " did not finish within "+RoundDuration(limit))
}

func msgMerged(branch, commit string, pipeline int64) Text {
	return Join(fmt.Sprintf("Merged into %s with %s, tested by ", Quote(branch), short(commit)), PassedRef(pipeline), ".")
}

// msgLeftOut follows the merge note of an MR that got new commits while
// its merge was being pushed: those commits are not in what merged.
func msgLeftOut(head string) string {
	return fmt.Sprintf("The commits pushed while it was being merged (head now %s) are not in it.", short(head))
}

// msgRulesUnmet explains an eviction by the forge's merge rules; why is a
// clause from the forge client ("it needs 1 more approval").
func msgRulesUnmet(why string) string {
	return "the merge rules no longer allow it to merge: " + strings.TrimSuffix(why, ".")
}

// msgEvicted is the sentence an evicted MR is told, around why, the
// clause the reason gives.
func msgEvicted(branch string, why Text) Text {
	return Join(fmt.Sprintf("Removed from the merge train for %s: ", Quote(branch)), why, ".")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func msgToLanes(branch string, lanes []string) string {
	return fmt.Sprintf("Added to the merge train for %s. It is tested in its lanes first (%s), and joins the train once it passed in each.", Quote(branch), QuoteAll(lanes))
}

func msgAlreadyInLanes(branch string, lc LaneCar) string {
	return fmt.Sprintf("This merge request is already on the merge train for %s, being tested in its lanes (%s).", Quote(branch), QuoteAll(lc.Lanes))
}

// InLanesText says where an MR being tested in its lanes stands: which
// lanes it passed in, and which it is still tested in.
func InLanesText(branch string, lc LaneCar) string {
	var passed, testing []string
	for _, l := range lc.Lanes {
		if slices.Contains(lc.Passed, l) {
			passed = append(passed, l)
		} else {
			testing = append(testing, l)
		}
	}
	s := fmt.Sprintf("On the merge train for %s, being tested in its lanes first: in %s", Quote(branch), QuoteAll(testing))
	if len(passed) > 0 {
		s += "; it passed in " + QuoteAll(passed)
	}
	return s + ". It joins the train once it passed in each."
}

// QuoteAll quotes each of names as Quote does, comma-separated.
func QuoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = Quote(n)
	}
	return strings.Join(q, ", ")
}
