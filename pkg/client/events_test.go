package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/api/apitest"
	"github.com/trainyard/trainyard/internal/event"
	"github.com/trainyard/trainyard/pkg/api"
	"github.com/trainyard/trainyard/pkg/client"
)

func TestClientDeadLetters(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := e.Ctx
	c := client.New(e.URL, apitest.Token)

	if dls, err := c.DeadLetters(ctx, 0); err != nil || len(dls) != 0 {
		t.Fatalf("DeadLetters = %+v, %v; want none", dls, err)
	}
	data, err := event.Event{ID: "d-1", Forge: "gitlab", Project: apitest.Project, Kind: event.KindMR,
		MR: 4, Action: event.ActionUpdate, HeadSHA: "abc"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	mrID, mrEntry := e.Bury(data, "dispatch: boom", 5)
	e.Clock.Advance(time.Second)
	junkID, junkEntry := e.Bury([]byte("{not json"), "decode event: invalid character 'n'", 1)

	wantMR := api.DeadLetter{ID: mrID, Entry: mrEntry, Reason: "dispatch: boom", Deliveries: 5,
		FailedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Delivery: "d-1", Forge: "gitlab",
		Project: apitest.Project, Kind: "mr", MR: 4, Event: json.RawMessage(data)}
	wantJunk := api.DeadLetter{ID: junkID, Entry: junkEntry, Reason: "decode event: invalid character 'n'", Deliveries: 1,
		FailedAt: time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC), Data: "{not json"}
	dls, err := c.DeadLetters(ctx, 0)
	if err != nil || !reflect.DeepEqual(dls, []api.DeadLetter{wantJunk, wantMR}) {
		t.Fatalf("DeadLetters = %+v, %v\nwant %+v", dls, err, []api.DeadLetter{wantJunk, wantMR})
	}
	if dls, err := c.DeadLetters(ctx, 1); err != nil || !reflect.DeepEqual(dls, []api.DeadLetter{wantJunk}) {
		t.Fatalf("DeadLetters(1) = %+v, %v", dls, err)
	}
	if d, err := c.DeadLetter(ctx, mrID); err != nil || !reflect.DeepEqual(d, wantMR) {
		t.Fatalf("DeadLetter = %+v, %v\nwant %+v", d, err, wantMR)
	}

	rq, err := c.Requeue(ctx, mrID)
	if err != nil || rq.ID != mrID || rq.Entry == "" || rq.Entry == mrEntry {
		t.Fatalf("Requeue = %+v, %v", rq, err)
	}
	evs, err := e.Store.ReadEvents(ctx, apitest.EventGroup, "worker", 10, 0)
	if err != nil || len(evs) != 1 || evs[0].ID != rq.Entry || string(evs[0].Data) != string(data) {
		t.Fatalf("events after requeue = %+v, %v; want the MR event as %s", evs, err, rq.Entry)
	}

	_, err = c.Requeue(ctx, mrID)
	var ae *client.Error
	if !errors.As(err, &ae) || *ae != (client.Error{Status: 404, Message: "dead letter " + mrID + " not found"}) {
		t.Fatalf("second Requeue: %#v", err)
	}
	if _, err := c.DeadLetter(ctx, "latest"); !client.IsStatus(err, http.StatusNotFound) ||
		err.Error() != `dead letter "latest" not found (HTTP 404)` {
		t.Fatalf("DeadLetter(latest): %v", err)
	}
	if _, err := client.New(e.URL, "").DeadLetters(ctx, 0); !client.IsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("DeadLetters without a token: %v", err)
	}
	if _, err := c.DeadLetters(ctx, 5000); !client.IsStatus(err, http.StatusBadRequest) ||
		err.Error() != `limit: want a number from 1 to 1000, got "5000" (HTTP 400)` {
		t.Fatalf("DeadLetters(5000): %v", err)
	}
}
