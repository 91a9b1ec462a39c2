package api

import (
	"encoding/json"
	"time"
)

// DeadLetter is an event the workers gave up on: handling it failed or
// panicked too often, or it did not decode.
type DeadLetter struct {
	// ID names the dead letter in the show and requeue calls.
	ID string `json:"id"`
	// Entry is the id the event had on the event stream.
	Entry string `json:"entry"`
	// Reason is the last error handling the event met.
	Reason     string    `json:"reason"`
	Deliveries int64     `json:"deliveries"`
	FailedAt   time.Time `json:"failed_at"`

	// A summary of the event, when its data decodes as one; each is
	// omitted when the event has none. Delivery is the forge's delivery id.
	Delivery string `json:"delivery,omitempty"`
	Forge    string `json:"forge,omitempty"`
	Project  string `json:"project,omitempty"`
	Kind     string `json:"kind,omitempty"`
	MR       int64  `json:"mr,omitempty"`

	// Event is the event as it was queued, when its data is JSON. It may
	// hold the text of comments.
	Event json.RawMessage `json:"event,omitempty"`
	// Data is the event's data when it is not JSON, cut to MaxDeadData
	// bytes and an ellipsis.
	Data string `json:"data,omitempty"`
}

// MaxDeadData bounds DeadLetter.Data.
const MaxDeadData = 4096

// DeadLetterList answers GET /api/v1/events/dead: newest first.
type DeadLetterList struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
}

// Requeued answers POST /api/v1/events/dead/{id}/requeue.
type Requeued struct {
	// ID is the dead letter's id, which is gone now.
	ID string `json:"id"`
	// Entry is the event's new entry on the event stream.
	Entry string `json:"entry"`
}
