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
