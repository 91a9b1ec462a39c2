package fakeforge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// ControlClient calls the control API of a running forge.
type ControlClient struct {
	base, token string
	hc          *http.Client
}

// NewControlClient returns a client of the forge at baseURL (its URL, as
// `trainyard fakeforge` prints it).
func NewControlClient(baseURL, token string, hc *http.Client) *ControlClient {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &ControlClient{base: baseURL, token: token, hc: hc}
}

// maxControlAnswer bounds what the client reads of an answer.
const maxControlAnswer = 16 << 20

// Do sends body (nil for none) as JSON to method ControlPrefix+path and
// decodes the answer into out (nil to ignore it). An answer other than
// 2xx is an error carrying the server's message.
func (c *ControlClient) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+ControlPrefix+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxControlAnswer))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e ControlError
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, e.Message)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// ProjectPath is the path segment naming project: its path URL-encoded
// as one segment, as the control API and GitLab's API take it.
func ProjectPath(project string) string { return "/projects/" + url.PathEscape(project) }

// MRPath is the path of an MR's endpoints.
func MRPath(project string, iid int64) string {
	return ProjectPath(project) + "/mrs/" + strconv.FormatInt(iid, 10)
}
