package fakeforge

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

func createPipeline(t *testing.T, c *gitlab.Client, ref string, vars map[string]string) *gitlab.Pipeline {
	t.Helper()
	var opts []*gitlab.PipelineVariableOptions
	for k, v := range vars {
		opts = append(opts, &gitlab.PipelineVariableOptions{Key: gitlab.Ptr(k), Value: gitlab.Ptr(v), VariableType: gitlab.Ptr(gitlab.EnvVariableType)})
	}
	p, _, err := c.Pipelines.CreatePipeline(project1, &gitlab.CreatePipelineOptions{Ref: gitlab.Ptr(ref), Variables: &opts})
	if err != nil {
		t.Fatalf("CreatePipeline(%s): %v", ref, err)
	}
	return p
}

func waitPipeline(t *testing.T, c *gitlab.Client, id int64) *gitlab.Pipeline {
	t.Helper()
	var p *gitlab.Pipeline
	waitFor(t, "pipeline to finish", func() bool {
		var err error
		p, _, err = c.Pipelines.GetPipeline(project1, id)
		if err != nil {
			t.Fatal(err)
		}
		return p.FinishedAt != nil
	})
	return p
}

func TestPipelineResultFollowsMarker(t *testing.T) {
	f := newForge(t, func(o *Options) { o.CI.Duration = 5 * time.Millisecond })
	mustProject(t, f, project1, nil)
	hooks := newSink(t, f, "")
	ctx := context.Background()
	good, _ := f.PushBranch(ctx, project1, "good", "alice", Commit{Files: map[string]string{"ok.txt": "ok"}})
	bad, _ := f.PushBranch(ctx, project1, "bad", "alice", Commit{Files: map[string]string{"deep/dir/BROKEN": "x"}})
	// A car on top of a broken MR carries the marker too, and fails.
	car, _ := f.PushBranch(ctx, project1, "bad", "alice", Commit{Files: map[string]string{"more.txt": "m"}})
	c := client(t, f, botToken)

	pg := createPipeline(t, c, "good", map[string]string{"TRAIN_MR": "7"})
	if pg.Status != PipelinePending || pg.SHA != good || pg.Ref != "good" {
		t.Fatalf("created pipeline = %+v", pg)
	}
	pb := createPipeline(t, c, "bad", nil)
	if pb.SHA != car || car == bad {
		t.Fatalf("pipeline on bad ran on %s, want %s", pb.SHA, car)
	}
	if got := waitPipeline(t, c, pg.ID); got.Status != PipelineSuccess || got.StartedAt == nil {
		t.Fatalf("good pipeline = %+v", got)
	}
	if got := waitPipeline(t, c, pb.ID); got.Status != PipelineFailed {
		t.Fatalf("bad pipeline status = %s", got.Status)
	}

	// Pipelines by sha and ref, for idempotent starts.
	list, _, err := c.Pipelines.ListProjectPipelines(project1, &gitlab.ListProjectPipelinesOptions{SHA: gitlab.Ptr(good), Ref: gitlab.Ptr("good")})
	if err != nil || len(list) != 1 || list[0].ID != pg.ID || list[0].Status != PipelineSuccess {
		t.Fatalf("ListProjectPipelines(good) = %v, %v", list, err)
	}
	if list, _, _ := c.Pipelines.ListProjectPipelines(project1, &gitlab.ListProjectPipelinesOptions{SHA: gitlab.Ptr(bad)}); len(list) != 0 {
		t.Fatalf("pipelines for an untested sha: %v", list)
	}

	evs, _ := hooks.events(t, f, EventPipeline)
	var seq []string
	for _, e := range evs {
		pe := e.(*gitlab.PipelineEvent)
		if pe.ObjectAttributes.ID == pg.ID {
			seq = append(seq, pe.ObjectAttributes.Status)
			if pe.ObjectAttributes.SHA != good || pe.ObjectAttributes.Ref != "good" || pe.Project.PathWithNamespace != project1 ||
				pe.Commit.ID != good || len(pe.ObjectAttributes.Variables) != 1 || pe.ObjectAttributes.Variables[0].Key != "TRAIN_MR" {
				t.Fatalf("pipeline event = %+v", pe.ObjectAttributes)
			}
		}
	}
	if strings.Join(seq, ",") != "pending,running,success" {
		t.Fatalf("pipeline event statuses = %v", seq)
	}

	log := f.PipelineLog()
	if len(log) != 2 {
		t.Fatalf("pipeline log has %d records", len(log))
	}
	byID := map[int64]PipelineRecord{log[0].ID: log[0], log[1].ID: log[1]}
	if r := byID[pg.ID]; r.Status != PipelineSuccess || r.SHA != good || r.Ref != "good" || r.Project != project1 || r.FinishedAt.Before(r.StartedAt) {
		t.Fatalf("log record = %+v", r)
	}
	if byID[pb.ID].Status != PipelineFailed {
		t.Fatalf("log record = %+v", byID[pb.ID])
	}
	fileRecords := readLog(t, filepath.Join(f.opts.Dir, "pipelines.jsonl"))
	if len(fileRecords) != 2 || fileRecords[0] != log[0] || fileRecords[1] != log[1] {
		t.Fatalf("JSONL log = %+v, memory %+v", fileRecords, log)
	}
}

func readLog(t *testing.T, path string) []PipelineRecord {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var out []PipelineRecord
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		var r PipelineRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestPipelineRejectsUnknownRefAndReporter(t *testing.T) {
	f := newForge(t, nil)
	mustProject(t, f, project1, nil)
	c := client(t, f, botToken)
	_, resp, err := c.Pipelines.CreatePipeline(project1, &gitlab.CreatePipelineOptions{Ref: gitlab.Ptr("nope")})
	if err == nil || resp.StatusCode != 400 || !strings.Contains(err.Error(), "Reference not found") {
		t.Fatalf("unknown ref: %v", err)
	}
	f.AddToken("rita", "rita-token")
	f.SetAccess(project1, "rita", Reporter)
	_, resp, err = client(t, f, "rita-token").Pipelines.CreatePipeline(project1, &gitlab.CreatePipelineOptions{Ref: gitlab.Ptr("main")})
	if err == nil || resp.StatusCode != 403 {
		t.Fatalf("reporter pipeline: %v", err)
	}
}

func TestPipelineCancelAndManualFinish(t *testing.T) {
	f := newForge(t, func(o *Options) { o.CI.Manual = true })
	mustProject(t, f, project1, nil)
	c := client(t, f, botToken)
	p1 := createPipeline(t, c, "main", nil)
	p2 := createPipeline(t, c, "main", nil)
	waitFor(t, "pipelines running", func() bool {
		a, _, errA := c.Pipelines.GetPipeline(project1, p1.ID)
		b, _, errB := c.Pipelines.GetPipeline(project1, p2.ID)
		if errA != nil || errB != nil {
			t.Fatalf("GetPipeline: %v, %v", errA, errB)
		}
		return a.Status == PipelineRunning && b.Status == PipelineRunning
	})
	got, _, err := c.Pipelines.CancelPipelineBuild(project1, p1.ID)
	if err != nil || got.Status != PipelineCanceled {
		t.Fatalf("cancel = %+v, %v", got, err)
	}
	// Cancelling twice changes nothing.
	if got, _, err := c.Pipelines.CancelPipelineBuild(project1, p1.ID); err != nil || got.Status != PipelineCanceled {
		t.Fatalf("second cancel = %+v, %v", got, err)
	}
	if err := f.FinishPipeline(context.Background(), p2.ID, PipelineFailed); err != nil {
		t.Fatal(err)
	}
	if got := waitPipeline(t, c, p2.ID); got.Status != PipelineFailed {
		t.Fatalf("manual finish: %s", got.Status)
	}
	if err := f.FinishPipeline(context.Background(), p1.ID, PipelineSuccess); err == nil {
		t.Fatal("finishing a cancelled pipeline succeeded")
	}
	// The log is written as each run ends, which may trail its status.
	var log []PipelineRecord
	waitFor(t, "both runs logged", func() bool { log = f.PipelineLog(); return len(log) >= 2 })
	if len(log) != 2 || log[0].ID != p1.ID || log[0].Status != PipelineCanceled || log[1].Status != PipelineFailed {
		t.Fatalf("log = %+v", log)
	}
}

func TestFlakesAreSeeded(t *testing.T) {
	run := func(seed uint64) []string {
		f := newForge(t, func(o *Options) { o.Seed = seed; o.CI.FlakeRate = 0.5 })
		mustProject(t, f, project1, nil)
		c := client(t, f, botToken)
		var ids []int64
		for range 12 {
			ids = append(ids, createPipeline(t, c, "main", nil).ID)
		}
		var out []string
		for _, id := range ids {
			got := waitPipeline(t, c, id).Status
			want := PipelineSuccess
			if unitFloat(seed, uint64(id)) < 0.5 {
				want = PipelineFailed
			}
			if got != want {
				t.Fatalf("seed %d pipeline %d: %s, want %s", seed, id, got, want)
			}
			out = append(out, got)
		}
		return out
	}
	a, b := run(3), run(3)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("same seed, different results: %v vs %v", a, b)
	}
	if !strings.Contains(strings.Join(a, ","), PipelineFailed) || !strings.Contains(strings.Join(a, ","), PipelineSuccess) {
		t.Fatalf("flake rate 0.5 gave %v", a)
	}
}

func TestPipelineOnPush(t *testing.T) {
	f := newForge(t, func(o *Options) { o.CI.OnPush = true })
	mustProject(t, f, project1, nil)
	head, err := f.PushBranch(context.Background(), project1, "topic", "alice", Commit{Files: map[string]string{"t": "t"}})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := f.Pipelines(project1)
	if err != nil || len(ps) != 1 || ps[0].SHA != head || ps[0].Ref != "topic" || ps[0].Source != "push" || ps[0].User != "alice" {
		t.Fatalf("pipelines after push = %+v, %v", ps, err)
	}
}
