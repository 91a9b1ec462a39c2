package fakeforge

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestRunServesUntilCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Dir: t.TempDir(), Addr: addr, Tokens: map[string]string{botToken: botName}})
	}()
	waitFor(t, "forge to answer", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v4/user", nil)
		req.Header.Set("PRIVATE-TOKEN", botToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestOptionsValidated(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without Dir succeeded")
	}
	if _, err := New(Options{Dir: t.TempDir(), CI: CI{FlakeRate: 1.5}}); err == nil {
		t.Fatal("New with flake rate 1.5 succeeded")
	}
}

func TestProjectsFromOptionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, Tokens: map[string]string{botToken: botName}, Projects: []ProjectSpec{
		{Path: project1, Files: map[string]string{"go.mod": "module x\n"}, Members: map[string]int{"dev": Developer}},
	}}
	first, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	head, err := first.PushBranch(context.Background(), project1, "topic", "dev", Commit{Files: map[string]string{"t": "t"}})
	if err != nil {
		t.Fatal(err)
	}
	first.Close()

	second := newForge(t, func(o *Options) { *o = opts })
	if got, err := second.BranchHead(context.Background(), project1, "topic"); err != nil || got != head {
		t.Fatalf("topic after restart = %q, %v; want %s", got, err, head)
	}
	dev := second.AddUser("dev")
	m, _, err := client(t, second, botToken).ProjectMembers.GetInheritedProjectMember(project1, dev.ID)
	if err != nil || m.AccessLevel != Developer {
		t.Fatalf("member dev = %+v, %v", m, err)
	}
}
