package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trainyard/trainyard/internal/api/apitest"
	"github.com/trainyard/trainyard/pkg/api"
	"github.com/trainyard/trainyard/pkg/client"
)

func TestClientDrivesATrain(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{ProtectReads: true})
	c := client.New(e.URL+"/", apitest.Token)
	ctx := e.Ctx
	one, two := e.MR(1, false), e.MR(2, false)

	if ts, err := c.Trains(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("Trains = %+v, %v; want none", ts, err)
	}
	st, err := c.Add(ctx, "gitlab", apitest.Project, one, api.MRRequest{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Branch != "main" || st.Car == nil || st.Car.Position != 1 || st.Car.AddedBy != "alice" || st.Car.State != api.StateRunning {
		t.Fatalf("Add = %+v (car %+v)", st, st.Car)
	}
	if _, err := c.Add(ctx, "gitlab", apitest.Project, two, api.MRRequest{Priority: "high"}); err != nil {
		t.Fatal(err)
	}
	e.Sweep()
	tr, err := c.Train(ctx, "gitlab", apitest.Project, "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Cars) != 2 || tr.Cars[0].MR != two || tr.Cars[1].MR != one || tr.Cars[0].State != api.StateRunning || tr.Cars[0].Pipeline == 0 {
		t.Fatalf("Train cars = %+v; want !2 (high priority) running ahead of !1", tr.Cars)
	}
	ts, err := c.Trains(ctx)
	if err != nil || len(ts) != 1 || ts[0] != (api.TrainSummary{Forge: "gitlab", Project: apitest.Project, Branch: "main", Cars: 2, Running: 2}) {
		t.Fatalf("Trains = %+v, %v", ts, err)
	}

	if tr, err := c.Pause(ctx, "gitlab", apitest.Project, "main", api.TrainRequest{}); err != nil || !tr.Paused {
		t.Fatalf("Pause = paused %v, %v", tr.Paused, err)
	}
	if tr, err := c.Resume(ctx, "gitlab", apitest.Project, "main", api.TrainRequest{User: "ops"}); err != nil || tr.Paused {
		t.Fatalf("Resume = paused %v, %v", tr.Paused, err)
	}
	if tr, err := c.Freeze(ctx, "gitlab", apitest.Project, "main", api.FreezeRequest{Reason: "release 2.0", User: "ops"}); err != nil ||
		tr.Frozen == nil || tr.Frozen.Reason != "release 2.0" || tr.Hold == nil || tr.Hold.Kind != api.HoldFrozen {
		t.Fatalf("Freeze = frozen %+v, hold %+v, %v", tr.Frozen, tr.Hold, err)
	}
	if _, err := c.Freeze(ctx, "gitlab", apitest.Project, "main", api.FreezeRequest{}); !client.IsStatus(err, http.StatusBadRequest) {
		t.Fatalf("Freeze without a reason: %v, want a 400", err)
	}
	if tr, err := c.Unfreeze(ctx, "gitlab", apitest.Project, "main", api.TrainRequest{}); err != nil || tr.Frozen != nil || tr.Hold != nil {
		t.Fatalf("Unfreeze = frozen %+v, hold %+v, %v", tr.Frozen, tr.Hold, err)
	}
	if tr, err := c.Drain(ctx, "gitlab", apitest.Project, "main", api.TrainRequest{}); err != nil || !tr.Draining {
		t.Fatalf("Drain = draining %v, %v", tr.Draining, err)
	}
	if tr, err := c.Undrain(ctx, "gitlab", apitest.Project, "main", api.TrainRequest{}); err != nil || tr.Draining {
		t.Fatalf("Undrain = draining %v, %v", tr.Draining, err)
	}
	st, err = c.Retry(ctx, "gitlab", apitest.Project, one, api.MRRequest{})
	if err != nil || st.Car == nil || st.Car.MR != one {
		t.Fatalf("Retry = %+v, %v", st, err)
	}
	st, err = c.Remove(ctx, "gitlab", apitest.Project, two, api.MRRequest{})
	if err != nil || st != (api.MRStatus{Forge: "gitlab", Project: apitest.Project, MR: two, Label: fmt.Sprintf("!%d", two)}) {
		t.Fatalf("Remove = %+v, %v", st, err)
	}
	hist, err := c.History(ctx, "gitlab", apitest.Project, "main", 1)
	if err != nil || len(hist) != 1 || hist[0].MR != two || hist[0].State != api.StateEvicted || hist[0].ReasonCode != "removed" {
		t.Fatalf("History = %+v, %v", hist, err)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := e.Ctx
	c := client.New(e.URL, apitest.Token)

	_, err := c.Train(ctx, "gitlab", apitest.Project, "release/1.0")
	var ae *client.Error
	if !errors.As(err, &ae) || *ae != (client.Error{Status: 404, Message: "train release/1.0 of group/app on gitlab not found"}) {
		t.Fatalf("err = %#v", err)
	}
	if err.Error() != "train release/1.0 of group/app on gitlab not found (HTTP 404)" {
		t.Fatalf("message %q", err)
	}

	_, err = client.New(e.URL, "wrong").Add(ctx, "gitlab", apitest.Project, 1, api.MRRequest{})
	if !client.IsStatus(err, http.StatusUnauthorized) || err.Error() != "invalid token (HTTP 401)" {
		t.Fatalf("wrong token: %v", err)
	}

	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	_, err = client.New(proxy.URL, "").Trains(ctx)
	if !client.IsStatus(err, http.StatusBadGateway) || err.Error() != "Bad Gateway (HTTP 502)" {
		t.Fatalf("proxy error: %v", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = client.New(closed.URL, "").Trains(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "list trains: ") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("unreachable server: %v", err)
	}
}
