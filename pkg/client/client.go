// Package client is a Go client of Trainyard's HTTP API (pkg/api types).
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("TRAINYARD_TOKEN"))
//	t, err := c.Train(ctx, "gitlab", "group/app", "main")
//
// Errors the server answers with are *Error, carrying the HTTP status and
// the server's message, which names what it is about; errors of the
// transport are wrapped with the operation.
package client

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

	"github.com/trainyard/trainyard/pkg/api"
)

// maxResponse bounds what is read of an answer.
const maxResponse = 32 << 20

// Client calls one Trainyard server. It is safe for concurrent use.
type Client struct {
	base      string
	token     string
	http      *http.Client
	userAgent string
}

// Option adjusts a Client.
type Option func(*Client)

// WithHTTPClient sends requests through hc instead of a client with a
// one-minute timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the server at baseURL (scheme, host and any path
// prefix, without /api/v1). token is sent as a bearer token when not empty.
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{
		base: strings.TrimRight(baseURL, "/"), token: token,
		// Adding an MR waits for its build, so allow more than a page load.
		http:      &http.Client{Timeout: time.Minute},
		userAgent: "trainyard-client",
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is an error answer of the server.
type Error struct {
	Status  int    // HTTP status
	Message string // the server's message
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// IsStatus reports whether err is an *Error with the given status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

const deadPath = "/api/v1/events/dead"

func trainPath(forge, project, branch string) string {
	return "/api/v1/trains/" + url.PathEscape(forge) + "/" + url.PathEscape(project) + "/" + url.PathEscape(branch)
}

func mrPath(forge, project string, mr int64) string {
	return "/api/v1/merge_requests/" + url.PathEscape(forge) + "/" + url.PathEscape(project) + "/" + strconv.FormatInt(mr, 10)
}

// Projects lists the projects the server's configuration names.
func (c *Client) Projects(ctx context.Context) ([]api.Project, error) {
	var out api.ProjectList
	if err := c.do(ctx, http.MethodGet, "/api/v1/projects", nil, &out); err != nil {
		return nil, failed(err, "list projects")
	}
	return out.Projects, nil
}

// OpenMRs lists up to limit open merge requests of project, the most
// recently updated first; limit 0 takes the server's default.
func (c *Client) OpenMRs(ctx context.Context, forge, project string, limit int) ([]api.OpenMR, error) {
	path := "/api/v1/merge_requests/" + url.PathEscape(forge) + "/" + url.PathEscape(project)
	if limit > 0 {
		path += "?limit=" + strconv.Itoa(limit)
	}
	var out api.OpenMRList
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, failed(err, "list the open merge requests of %s", project)
	}
	return out.MergeRequests, nil
}

// Trains lists every train.
func (c *Client) Trains(ctx context.Context) ([]api.TrainSummary, error) {
	var out api.TrainList
	if err := c.do(ctx, http.MethodGet, "/api/v1/trains", nil, &out); err != nil {
		return nil, failed(err, "list trains")
	}
	return out.Trains, nil
}

// Train returns a train with its cars.
func (c *Client) Train(ctx context.Context, forge, project, branch string) (api.Train, error) {
	var out api.Train
	if err := c.do(ctx, http.MethodGet, trainPath(forge, project, branch), nil, &out); err != nil {
		return out, failed(err, "show train %s of %s", branch, project)
	}
	return out, nil
}

// History returns up to limit cars that left a train, newest first;
// limit 0 takes the server's default.
func (c *Client) History(ctx context.Context, forge, project, branch string, limit int) ([]api.HistoryEntry, error) {
	path := trainPath(forge, project, branch) + "/history"
	if limit > 0 {
		path += "?limit=" + strconv.Itoa(limit)
	}
	var out api.History
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, failed(err, "history of train %s of %s", branch, project)
	}
	return out.Entries, nil
}

// Add puts an MR on the train for its target branch.
func (c *Client) Add(ctx context.Context, forge, project string, mr int64, req api.MRRequest) (api.MRStatus, error) {
	return c.mrCommand(ctx, "add", forge, project, mr, req)
}

// Remove takes an MR off its train.
func (c *Client) Remove(ctx context.Context, forge, project string, mr int64, req api.MRRequest) (api.MRStatus, error) {
	return c.mrCommand(ctx, "remove", forge, project, mr, req)
}

// Retry rebuilds an MR's car, or puts the MR back on its train.
func (c *Client) Retry(ctx context.Context, forge, project string, mr int64, req api.MRRequest) (api.MRStatus, error) {
	return c.mrCommand(ctx, "retry", forge, project, mr, req)
}

// Pause stops a train from starting or merging anything.
func (c *Client) Pause(ctx context.Context, forge, project, branch string, req api.TrainRequest) (api.Train, error) {
	return c.trainCommand(ctx, "pause", forge, project, branch, req)
}

// Resume undoes Pause.
func (c *Client) Resume(ctx context.Context, forge, project, branch string, req api.TrainRequest) (api.Train, error) {
	return c.trainCommand(ctx, "resume", forge, project, branch, req)
}

// Freeze holds a train's target with a reason: its cars are still built
// and tested, nothing merges until Unfreeze.
func (c *Client) Freeze(ctx context.Context, forge, project, branch string, req api.FreezeRequest) (api.Train, error) {
	return c.trainCommand(ctx, "freeze", forge, project, branch, req)
}

// Unfreeze lifts Freeze.
func (c *Client) Unfreeze(ctx context.Context, forge, project, branch string, req api.TrainRequest) (api.Train, error) {
	return c.trainCommand(ctx, "unfreeze", forge, project, branch, req)
}

// Drain makes a train finish the cars on it and take no new ones.
func (c *Client) Drain(ctx context.Context, forge, project, branch string, req api.TrainRequest) (api.Train, error) {
	return c.trainCommand(ctx, "drain", forge, project, branch, req)
}

// Undrain undoes Drain: the train takes new cars again.
func (c *Client) Undrain(ctx context.Context, forge, project, branch string, req api.TrainRequest) (api.Train, error) {
	return c.trainCommand(ctx, "undrain", forge, project, branch, req)
}

// DeadLetters returns up to limit events the server's workers gave up on,
// newest first; limit 0 takes the server's default.
func (c *Client) DeadLetters(ctx context.Context, limit int) ([]api.DeadLetter, error) {
	path := deadPath
	if limit > 0 {
		path += "?limit=" + strconv.Itoa(limit)
	}
	var out api.DeadLetterList
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, failed(err, "list dead letters")
	}
	return out.DeadLetters, nil
}

// DeadLetter returns one dead letter.
func (c *Client) DeadLetter(ctx context.Context, id string) (api.DeadLetter, error) {
	var out api.DeadLetter
	if err := c.do(ctx, http.MethodGet, deadPath+"/"+url.PathEscape(id), nil, &out); err != nil {
		return out, failed(err, "show dead letter %s", id)
	}
	return out, nil
}

// Requeue puts a dead letter's event back on the event stream, to be
// handled again from scratch, and deletes the dead letter.
func (c *Client) Requeue(ctx context.Context, id string) (api.Requeued, error) {
	var out api.Requeued
	if err := c.do(ctx, http.MethodPost, deadPath+"/"+url.PathEscape(id)+"/requeue", nil, &out); err != nil {
		return out, failed(err, "requeue dead letter %s", id)
	}
	return out, nil
}

func (c *Client) mrCommand(ctx context.Context, verb, forge, project string, mr int64, req api.MRRequest) (api.MRStatus, error) {
	var out api.MRStatus
	if err := c.do(ctx, http.MethodPost, mrPath(forge, project, mr)+"/"+verb, req, &out); err != nil {
		return out, failed(err, "%s !%d of %s", verb, mr, project)
	}
	return out, nil
}

// trainCommand posts req (an api.TrainRequest or api.FreezeRequest) to
// one of a train's commands and reads the train after it.
func (c *Client) trainCommand(ctx context.Context, verb, forge, project, branch string, req any) (api.Train, error) {
	var out api.Train
	if err := c.do(ctx, http.MethodPost, trainPath(forge, project, branch)+"/"+verb, req, &out); err != nil {
		return out, failed(err, "%s train %s of %s", verb, branch, project)
	}
	return out, nil
}

// failed names the operation in an error of the transport; the server's
// own messages (*Error) already name what they are about.
func failed(err error, format string, args ...any) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// do sends body as JSON (when not nil) and decodes a success into out.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return errorOf(resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// errorOf reads an error answer; one that is not the API's JSON (a proxy's
// page, say) is named by its status.
func errorOf(resp *http.Response, data []byte) error {
	var e api.Error
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return &Error{Status: resp.StatusCode, Message: e.Error}
	}
	return &Error{Status: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
}
