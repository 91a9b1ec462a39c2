package gitlab

import (
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/trainyard/trainyard/internal/forge"
	"github.com/trainyard/trainyard/internal/train"
)

// mrOf reads an MR as GitLab gives it, alone or in a list, whose
// entries are the same but for fields not read here.
func mrOf(project string, mr *gl.BasicMergeRequest) forge.MR {
	out := forge.MR{
		Project: project, IID: mr.IID, State: mr.State, Draft: mr.Draft,
		SourceBranch: mr.SourceBranch, TargetBranch: mr.TargetBranch, HeadSHA: mr.SHA,
		Title: mr.Title, Description: mr.Description, WebURL: mr.WebURL,
	}
	if mr.Author != nil {
		out.Author = mr.Author.Username
	}
	return out
}

func pipelineOf(p *gl.Pipeline) forge.Pipeline {
	return forge.Pipeline{
		ID: p.ID, SHA: p.SHA, Ref: p.Ref, Status: PipelineState(p.Status), WebURL: p.WebURL,
		CreatedAt: timeOf(p.CreatedAt), FinishedAt: timeOf(p.FinishedAt),
	}
}

func pipelineInfoOf(p *gl.PipelineInfo) forge.Pipeline {
	return forge.Pipeline{
		ID: p.ID, SHA: p.SHA, Ref: p.Ref, Status: PipelineState(p.Status), WebURL: p.WebURL,
		CreatedAt: timeOf(p.CreatedAt),
	}
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// PipelineState normalises a GitLab pipeline status. Statuses that wait
// (created, preparing, scheduled, manual, ...) are pending: the train's
// pipeline timeout decides when waiting has gone on too long.
func PipelineState(status string) train.PipelineState {
	switch status {
	case "running":
		return train.PipelineRunning
	case "success":
		return train.PipelineSuccess
	case "failed":
		return train.PipelineFailed
	case "canceled", "canceling":
		// Being cancelled ends cancelled: nothing to reuse or wait for,
		// as webhooks read it too.
		return train.PipelineCanceled
	case "skipped":
		return train.PipelineSkipped
	}
	return train.PipelinePending
}
