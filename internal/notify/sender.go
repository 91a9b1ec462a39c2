package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trainyard/trainyard/internal/retry"
)

// Message is one chat post, already rendered in the chat's Markdown.
type Message struct {
	Text string
}

// Sender posts a message to one chat destination. One attempt per call:
// retrying is the caller's decision.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Secret is a webhook URL. Whoever holds it can post to the channel, so it
// prints and encodes redacted; convert it with string() to use it.
type Secret string

const redacted = "[redacted]"

// String is "[redacted]", or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// Format keeps every fmt verb from printing the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON encodes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// DefaultTimeout bounds one webhook request when Webhook.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Webhook is an incoming-webhook endpoint, the transport shared by the
// Slack and Mattermost senders.
type Webhook struct {
	URL Secret
	// Client sends the requests; nil means a client of its own.
	Client *http.Client
	// Timeout bounds one request; zero means DefaultTimeout.
	Timeout time.Duration
}

// StatusError is a webhook's non-2xx answer.
type StatusError struct {
	Code int
	// RetryAfter is the wait the receiver asked for (429 and 503), or 0.
	RetryAfter time.Duration
	// Body is the start of the answer, which names the problem (Slack
	// answers "invalid_payload", "channel_not_found", ...).
	Body string
}

func (e *StatusError) Error() string {
	msg := "webhook answered " + strconv.Itoa(e.Code) + " " + http.StatusText(e.Code)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// maxErrorBody bounds how much of an error answer is kept.
const maxErrorBody = 200

// post sends payload as JSON and reads the answer. Errors never carry the
// URL, which is the webhook's credential.
func (w Webhook) post(ctx context.Context, payload any) error {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	// Slack links are <url|text>; HTML escaping would turn them into
	// \u003c...\u003e, valid but unreadable in a captured request.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(payload); err != nil {
		return fmt.Errorf("encode webhook payload: %w", err)
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(w.URL), &body)
	if err != nil {
		return errors.New("build webhook request: invalid webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	client := w.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return redactURL(err, string(w.URL))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Reading the rest lets the connection be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	return statusError(resp, string(w.URL), time.Now())
}

func statusError(resp *http.Response, rawURL string, now time.Time) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	// The limit may cut a character in two.
	body := strings.ToValidUTF8(strings.TrimSpace(string(b)), "")
	return &StatusError{
		Code:       resp.StatusCode,
		RetryAfter: retry.RetryAfter(resp.Header, now),
		Body:       strings.ReplaceAll(body, rawURL, redacted),
	}
}

// redactURL keeps a transport error's type and cause (so timeouts and
// cancellation are still recognised) without the URL it names.
func redactURL(err error, rawURL string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redacted, Err: scrubbed(ue.Err, rawURL)}
	}
	return scrubbed(err, rawURL)
}

// scrubbed hides rawURL should an error's text still carry it (a redirect
// error names the URL inside its message, for one).
func scrubbed(err error, rawURL string) error {
	if err == nil || rawURL == "" || !strings.Contains(err.Error(), rawURL) {
		return err
	}
	return &scrubbedError{msg: strings.ReplaceAll(err.Error(), rawURL, redacted), err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }

// Is lets errors.Is see the cause (context.DeadlineExceeded, ...) while
// errors.As, which could expose the text, stops here.
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.err, target) }

// payload is what both chats take: the text, and the name and avatar to
// post under instead of the webhook's, each left out when not set.
type payload struct {
	Text     string `json:"text"`
	Username string `json:"username,omitempty"`
	IconURL  string `json:"icon_url,omitempty"`
}

// Slack posts to a Slack incoming webhook, or any receiver that takes
// Slack's {"text": ...} payload with mrkdwn.
type Slack struct {
	Webhook
	// Username and IconURL override the webhook's defaults when set
	// (Slack's legacy webhooks honour them; an app's webhook ignores
	// them).
	Username string
	IconURL  string
}

// Send posts m.
func (s Slack) Send(ctx context.Context, m Message) error {
	return s.post(ctx, payload{Text: m.Text, Username: s.Username, IconURL: s.IconURL})
}

// Mattermost posts to a Mattermost incoming webhook.
type Mattermost struct {
	Webhook
	// Username and IconURL override the webhook's defaults when set
	// (the server must allow overrides).
	Username string
	IconURL  string
}

// Send posts m.
func (s Mattermost) Send(ctx context.Context, m Message) error {
	return s.post(ctx, payload{Text: m.Text, Username: s.Username, IconURL: s.IconURL})
}
