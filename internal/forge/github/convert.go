package github

import (
	gh "github.com/google/go-github/v82/github"

	"github.com/trainyard/trainyard/internal/forge"
)

func mrOf(project string, pr *gh.PullRequest) forge.MR {
	state := forge.StateOpened
	switch {
	case pr.GetMerged() || pr.MergedAt != nil:
		state = forge.StateMerged
	case pr.GetState() == "closed":
		state = forge.StateClosed
	}
	return forge.MR{
		Project: project, IID: int64(pr.GetNumber()), State: state, Draft: pr.GetDraft(),
		SourceBranch: pr.GetHead().GetRef(), TargetBranch: pr.GetBase().GetRef(), HeadSHA: pr.GetHead().GetSHA(),
		Title: pr.GetTitle(), Description: pr.GetBody(), Author: pr.GetUser().GetLogin(), WebURL: pr.GetHTMLURL(),
	}
}

// roles maps GitHub's repository roles onto forge levels.
var roles = map[string]forge.AccessLevel{
	"admin": forge.Owner, "maintain": forge.Maintainer, "write": forge.Developer,
	"triage": forge.Reporter, "read": forge.Guest, "none": forge.NoAccess,
}

// accessOf reads the role; a custom role (an organisation's own name)
// falls back to the base permission GitHub gives beside it.
func accessOf(p *gh.RepositoryPermissionLevel) forge.AccessLevel {
	if l, ok := roles[p.GetRoleName()]; ok {
		return l
	}
	return roles[p.GetPermission()]
}
