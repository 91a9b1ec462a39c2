package webhook

import "github.com/trainyard/trainyard/internal/train"

// gitlabPipelineState maps a GitLab pipeline status. Every state before a
// job runs is pending to the train: it only waits.
func gitlabPipelineState(s string) (train.PipelineState, bool) {
	switch s {
	case "created", "waiting_for_resource", "preparing", "pending", "scheduled", "manual":
		return train.PipelinePending, true
	case "running":
		return train.PipelineRunning, true
	case "success":
		return train.PipelineSuccess, true
	case "failed":
		return train.PipelineFailed, true
	case "canceled", "canceling":
		return train.PipelineCanceled, true
	case "skipped":
		return train.PipelineSkipped, true
	}
	return "", false
}

// githubConclusion maps the conclusion of a completed check suite, check
// run or workflow run.
func githubConclusion(c string) (train.PipelineState, bool) {
	switch c {
	case "success":
		return train.PipelineSuccess, true
	case "failure", "timed_out", "action_required", "startup_failure":
		return train.PipelineFailed, true
	case "cancelled":
		return train.PipelineCanceled, true
	case "skipped", "neutral", "stale":
		return train.PipelineSkipped, true
	}
	return "", false
}

// githubStatusState maps the state of a commit status.
func githubStatusState(s string) (train.PipelineState, bool) {
	switch s {
	case "success":
		return train.PipelineSuccess, true
	case "failure", "error":
		return train.PipelineFailed, true
	case "pending":
		return train.PipelinePending, true
	}
	return "", false
}
