package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestSimCommandJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	root := newRootCommand(&out, &errOut)
	root.SetArgs([]string{"sim", "-o", "json", "--mrs", "40", "--break", "0.1", "--ci", "normal", "--ci-mean", "20m", "--ci-spread", "4m", "--seed", "5"})
	if err := root.Execute(); err != nil {
		t.Fatalf("sim: %v (%s)", err, errOut.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decode %s: %v", out.String(), err)
	}
	scenario := rep["scenario"].(map[string]any)
	for _, k := range []string{"arrival", "rate_per_hour", "mrs", "ci", "ci_mean", "ci_spread", "break_probability", "flake_probability", "conflict_probability", "max_parallel", "retries", "batch_size", "min_window", "horizon", "seed"} {
		if _, ok := scenario[k]; !ok {
			t.Errorf("scenario has no %s", k)
		}
	}
	if scenario["ci_mean"] != "20m0s" || scenario["mrs"] != 40.0 {
		t.Errorf("scenario = %v", scenario)
	}
	bound := rep["bound"].(map[string]any)
	if len(bound) != 2 || bound["throughput_per_hour"] == nil || bound["ttm_p50_minutes"] == nil {
		t.Errorf("bound = %v", bound)
	}
	fields := []string{"name", "merged", "evicted", "broken_merged", "good_evicted", "throughput_per_hour", "ttm_p50_minutes", "ttm_p95_minutes", "ttm_p99_minutes", "pipelines_per_merged", "wasted_pipeline_minutes"}
	strategies := rep["strategies"].([]any)
	var names []string
	for _, s := range strategies {
		m := s.(map[string]any)
		if len(m) != len(fields) {
			t.Errorf("%v has %d fields, want %d", m["name"], len(m), len(fields))
		}
		for _, k := range fields {
			if _, ok := m[k]; !ok {
				t.Errorf("%v has no %s", m["name"], k)
			}
		}
		if m["merged"].(float64)+m["evicted"].(float64) != 40 || m["broken_merged"] != 0.0 {
			t.Errorf("%v: %v", m["name"], m)
		}
		names = append(names, m["name"].(string))
	}
	if strings.Join(names, ",") != "serial,gitlab,trainyard,thrift,zuul,bors,github,mergify,github-headgreen,trunk" {
		t.Errorf("strategies = %v", names)
	}
}

func TestSimCommandTableAndErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	root := newRootCommand(&out, &errOut)
	root.SetArgs([]string{"sim", "--mrs", "10", "--break", "0"})
	if err := root.Execute(); err != nil {
		t.Fatalf("sim: %v", err)
	}
	for _, want := range []string{"serial", "gitlab", "trainyard", "thrift", "zuul", "bors", "github", "mergify", "github-headgreen", "trunk", "bound", "vs gitlab"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	root = newRootCommand(&out, &errOut)
	root.SetArgs([]string{"sim", "--break", "2"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "break_probability") {
		t.Errorf("err = %v, want one naming break_probability", err)
	}
}
