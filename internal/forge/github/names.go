package github

import (
	"context"
	"fmt"
	"slices"
	"strings"

	gh "github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// PipelineName renders the pipeline id for a note on a pull request, in
// place of the "pipeline #<id>" that means nothing on GitHub: for a
// pipeline that failed, the checks that failed, each linked to its page;
// otherwise, or when none is found, the commit's checks page. A pipeline
// the train saw pass is not read again.
func (c *Client) PipelineName(ctx context.Context, project string, id int64, passed bool) (string, error) {
	p := forge.Pipeline{Status: train.PipelineSuccess}
	if !passed {
		var err error
		if p, err = c.Pipeline(ctx, project, id); err != nil {
			return "", err
		}
	}
	r, sha, attempt, err := c.resolveID(ctx, project, id)
	if err != nil {
		return "", err
	}
	commit := fmt.Sprintf("[`%.12s`](%s/%s/commit/%s/checks)", sha, c.web, project, sha)
	if attempt > 1 {
		commit += fmt.Sprintf(" (attempt %d)", attempt)
	}
	if p.Status != train.PipelineFailed && p.Status != train.PipelineCanceled {
		return "the checks on " + commit, nil
	}
	failed, err := c.failedChecks(ctx, r, sha)
	if err != nil || len(failed) == 0 {
		return "the checks on " + commit, err
	}
	word := "check"
	if len(failed) > 1 {
		word = "checks"
	}
	return fmt.Sprintf("%s %s on %s", word, strings.Join(failed, ", "), commit), nil
}

// failedChecks links, for each required check on sha that ever failed,
// its newest failed check run: of every attempt, not just the newest,
// which may be a re-run that was cancelled. A check that was only ever
// cancelled links its newest cancelled run.
func (c *Client) failedChecks(ctx context.Context, r repoRef, sha string) ([]string, error) {
	runs, err := c.checkRuns(ctx, r, sha)
	if err != nil {
		return nil, err
	}
	own, _, _, err := c.carChecks(ctx, r, sha, r.trustedRuns(runs), nil, false)
	if err != nil {
		return nil, err
	}
	worst := map[string]*gh.CheckRun{}
	for _, g := range own {
		run := g.CheckRun
		s := runState(run)
		if (s != checkFailed && s != checkCanceled) || !required(r, run.GetName()) {
			continue
		}
		cur, ok := worst[run.GetName()]
		if !ok || s > runState(cur) || (s == runState(cur) && run.GetID() > cur.GetID()) {
			worst[run.GetName()] = run
		}
	}
	var out []string
	for name, run := range worst {
		// A check's name is whatever a workflow in the tested tree
		// says, so it is shown as code: no mention or link of its own.
		out = append(out, fmt.Sprintf("[%s](%s)", train.Quote(name), linkTarget(run.GetHTMLURL())))
	}
	slices.Sort(out)
	return out, nil
}

// linkTarget keeps a URL from ending its Markdown link early.
func linkTarget(u string) string {
	return strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E").Replace(u)
}

// required reports whether a check counts for the repository's pipelines.
func required(r repoRef, name string) bool {
	names, every := r.needs()
	return every || slices.Contains(names, name)
}
