package demo

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
)

// Files written to Options.Dir.
const (
	PipelinesFile = "pipelines.jsonl"
	MRsFile       = "mrs.json"
	SummaryFile   = "summary.json"
)

// pipelineLine is one line of PipelinesFile.
type pipelineLine struct {
	ID         int64     `json:"id"`
	Project    string    `json:"project"`
	Ref        string    `json:"ref"`
	SHA        string    `json:"sha"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// mrRecord is one entry of MRsFile.
type mrRecord struct {
	IID          int64  `json:"iid"`
	SourceBranch string `json:"source_branch"`
	HeadSHA      string `json:"head_sha"`
	Broken       bool   `json:"broken"`
	Conflicting  bool   `json:"conflicting"`
	FinalState   string `json:"final_state"`
	Reason       string `json:"reason"`
}

// summaryRecord is SummaryFile.
type summaryRecord struct {
	Merged      int     `json:"merged"`
	Evicted     int     `json:"evicted"`
	Pipelines   int     `json:"pipelines"`
	TargetHead  string  `json:"target_head"`
	WallSeconds float64 `json:"wall_seconds"`
}

// writeFiles writes the run's record to dir.
func writeFiles(dir string, s Summary, log []fakeforge.PipelineRecord) error {
	if err := writePipelines(filepath.Join(dir, PipelinesFile), log); err != nil {
		return err
	}
	mrs := make([]mrRecord, len(s.MRs))
	for i, m := range s.MRs {
		mrs[i] = mrRecord{IID: m.MR, SourceBranch: m.Source, HeadSHA: m.HeadSHA, Broken: m.Broken,
			Conflicting: m.Conflicting, FinalState: string(m.State), Reason: m.Reason.String()}
	}
	if err := writeJSON(filepath.Join(dir, MRsFile), mrs); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, SummaryFile), summaryRecord{Merged: s.Merged, Evicted: s.Evicted,
		Pipelines: s.Pipelines, TargetHead: s.Head, WallSeconds: s.Elapsed.Seconds()})
}

func writePipelines(path string, log []fakeforge.PipelineRecord) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("demo: write pipelines: %w", err)
	}
	enc := json.NewEncoder(f)
	for _, r := range log {
		if err := enc.Encode(pipelineLine{ID: r.ID, Project: r.Project, Ref: r.Ref, SHA: r.SHA, Status: r.Status,
			StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}); err != nil {
			f.Close()
			return fmt.Errorf("demo: write %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("demo: encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}
