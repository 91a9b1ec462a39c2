package notify

import (
	"strings"
	"time"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// dialect is one chat's flavour of Markdown. Titles and user names come
// from the forge and are escaped; reason messages are Markdown the planner
// wrote (inline code only), passed through as far as the chat allows.
type dialect interface {
	text(s string) string
	code(s string) string
	markdown(s string) string
	link(label, url string) string
}

func dialectFor(k Kind) dialect {
	if k == KindMattermost {
		return mattermost{}
	}
	return slack{}
}

// slack is Slack's mrkdwn: only &, < and > need escaping, and links are
// <url|label>.
type slack struct{}

var (
	slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	slackURL     = strings.NewReplacer("|", "%7C", ">", "%3E")
)

func (slack) text(s string) string     { return slackEscaper.Replace(s) }
func (slack) code(s string) string     { return "`" + slackEscaper.Replace(noBackticks(s)) + "`" }
func (slack) markdown(s string) string { return slackEscaper.Replace(s) }
func (slack) link(label, url string) string {
	return "<" + slackURL.Replace(url) + "|" + label + ">"
}

// mattermost is CommonMark: punctuation that would start formatting is
// backslash-escaped, and links are [label](url). Mattermost also acts on
// @-mentions in webhook posts, so a title such as "@all look" would page a
// whole channel: a zero-width space after each @ in forge text keeps it
// from being read as a mention while it looks the same.
type mattermost struct{}

var (
	mattermostEscaper = strings.NewReplacer(
		`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`, "~", `\~`, "@", "@\u200b")
	mattermostURL = strings.NewReplacer(" ", "%20", ")", "%29")
)

func (mattermost) text(s string) string     { return mattermostEscaper.Replace(s) }
func (mattermost) code(s string) string     { return "`" + noBackticks(s) + "`" }
func (mattermost) markdown(s string) string { return noMentions(s) }
func (mattermost) link(label, url string) string {
	return "[" + label + "](" + mattermostURL.Replace(url) + ")"
}

// noMentions defuses every @ of planner-written Markdown, inside code
// spans too: a reason may carry text from elsewhere, and Mattermost finds
// mentions after stripping code by a pattern of its own, which a span
// with backticks inside (a quoted path like a`b @channel) can outwit. In
// code the zero-width space is invisible.
func noMentions(s string) string { return strings.ReplaceAll(s, "@", "@\u200b") }

// noBackticks keeps a name from closing its code span early.
func noBackticks(s string) string { return strings.ReplaceAll(s, "`", "'") }

// renderer writes the messages about one train in one dialect, with its
// forge's names and links.
type renderer struct {
	d       dialect
	profile forge.Profile
	links   forge.Links
	key     train.Key
}

func render(d dialect, profiles forge.Profiles, key train.Key, n train.Notify) string {
	p := profiles.Of(key.Forge)
	r := renderer{d: d, profile: p, links: p.Link(), key: key}
	switch n.Kind {
	case train.NotifyMerged:
		return r.merged(n)
	case train.NotifyEvicted:
		return r.evicted(n)
	case train.NotifyPaused, train.NotifyResumed:
		return r.pausedOrResumed(n)
	case train.NotifyFrozen:
		return r.steered(n, "was frozen", "; cars are still tested, nothing merges until it is unfrozen")
	case train.NotifyUnfrozen:
		return r.steered(n, "was unfrozen", "")
	case train.NotifyDraining:
		return r.steered(n, "was set to drain", ": it finishes its cars and takes no new one")
	case train.NotifyUndrained:
		return r.steered(n, "was opened to new cars again", "")
	}
	return "The merge train for " + r.where() + ": " + r.d.text(string(n.Kind)) + "."
}

func (r renderer) merged(n train.Notify) string {
	var b strings.Builder
	b.WriteString("Merged into " + r.where())
	if n.Commit != "" {
		b.WriteString(" as " + r.commit(n.Commit))
	}
	if p := mergePipeline(n); p != 0 {
		b.WriteString(", tested by " + r.pipeline(p))
	}
	b.WriteString(":")
	for _, c := range n.Cars {
		b.WriteString("\n• " + r.car(c))
		if d, ok := timeOnTrain(c); ok {
			b.WriteString(" — " + d + " on the train")
		}
	}
	return b.String()
}

func (r renderer) evicted(n train.Notify) string {
	var b strings.Builder
	b.WriteString("Removed from the merge train for " + r.where() + ":")
	for _, c := range n.Cars {
		b.WriteString("\n• " + r.car(c))
		if c.Reason != nil && len(c.Reason.Why()) > 0 {
			b.WriteString(" — " + r.reason(*c.Reason))
		}
	}
	return b.String()
}

func (r renderer) pausedOrResumed(n train.Notify) string {
	s := "The merge train for " + r.where() + " was " + string(n.Kind)
	if n.By != "" {
		s += " by " + r.d.text(n.By)
	}
	return s + "."
}

// steered says that someone changed how the train runs: what happened,
// by whom, with the reason they gave, then what it means.
func (r renderer) steered(n train.Notify, what, means string) string {
	s := "The merge train for " + r.where() + " " + what
	if n.By != "" {
		s += " by " + r.d.text(n.By)
	}
	if n.Reason != "" {
		s += " (" + r.d.text(n.Reason) + ")"
	}
	return s + means + "."
}

func (r renderer) where() string {
	return r.d.code(r.key.Branch) + " in " + r.d.text(r.key.Project)
}

func (r renderer) car(c train.Car) string {
	s := r.ref(r.d.text(r.profile.Label(c.MR)), r.links.MR(r.key.Project, c.MR))
	if t := train.TitleLine(c.Title); t != "" {
		s += " " + r.d.text(t)
	}
	return s
}

func (r renderer) pipeline(id int64) string {
	return r.ref(r.d.text(r.profile.PipelineLabel(id)), r.links.Pipeline(r.key.Project, id))
}

func (r renderer) commit(sha string) string {
	if url := r.links.Commit(r.key.Project, sha); url != "" {
		return r.d.link(r.d.text(short(sha)), url)
	}
	return r.d.code(short(sha))
}

func (r renderer) ref(label, url string) string {
	if url == "" {
		return label
	}
	return r.d.link(label, url)
}

// reason renders why a car left: the planner's words as the chat's
// Markdown, each pipeline it names by the forge's name and linked.
func (r renderer) reason(why train.Reason) string {
	var b strings.Builder
	for _, span := range why.Why() {
		if span.Pipeline != 0 {
			b.WriteString(r.pipeline(span.Pipeline))
			continue
		}
		b.WriteString(r.d.markdown(span.Words))
	}
	return b.String()
}

// mergePipeline is the pipeline that tested the merged commit.
func mergePipeline(n train.Notify) int64 {
	for _, c := range n.Cars {
		if c.Reason != nil && c.Reason.Pipeline != 0 {
			return c.Reason.Pipeline
		}
	}
	for _, c := range n.Cars {
		if c.Commit == n.Commit && c.Pipeline != 0 {
			return c.Pipeline
		}
	}
	return 0
}

// timeOnTrain is how long a car waited from being added to leaving, to
// the minute (to the second under a minute).
func timeOnTrain(c train.Car) (string, bool) {
	if c.AddedAt.IsZero() || c.LeftAt.IsZero() || c.LeftAt.Before(c.AddedAt) {
		return "", false
	}
	d := c.LeftAt.Sub(c.AddedAt)
	if d < time.Minute {
		return d.Round(time.Second).String(), true
	}
	s := strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s, true
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
