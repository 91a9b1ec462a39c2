package github

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shurcooL/githubv4"

	"github.com/trainyard/trainyard/internal/retry"
)

// mergeInfoPreview is the media type GitHub wants before it answers
// mergeStateStatus, still a schema preview.
const mergeInfoPreview = "application/vnd.github.merge-info-preview+json"

// maxGraphQLBody bounds how much of an answer is read to find its
// errors' types; the queries here have small answers.
const maxGraphQLBody = 4 << 20

// graphQLURL is where the instance serves GraphQL: api.github.com/graphql
// for github.com, /api/graphql beside /api/v3 on GitHub Enterprise
// Server.
func graphQLURL(web, api string) string {
	if web == DefaultBaseURL {
		return api + "/graphql"
	}
	return web + "/api/graphql"
}

// newGraphQL is a GraphQL client on the REST client's transport, and so
// with its credentials.
func newGraphQL(url string, rest *http.Client) *githubv4.Client {
	next := rest.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	return githubv4.NewEnterpriseClient(url, &http.Client{Transport: graphQLTransport{next}})
}

// graphQLTransport asks for the merge info preview, and records what
// each answer said besides its data for the retry loop, which githubv4's
// errors do not tell: the status, the headers and GitHub's error types.
type graphQLTransport struct{ next http.RoundTripper }

type seenKey struct{}

// seen is what one GraphQL attempt's answer said.
type seen struct {
	status int
	header http.Header
	// types are the GraphQL errors' types (NOT_FOUND, RATE_LIMITED, ...).
	types []string
	// secondary: a 403 for GitHub's secondary rate limit.
	secondary bool
}

func (t graphQLTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", mergeInfoPreview)
	resp, err := t.next.RoundTrip(r)
	s, ok := r.Context().Value(seenKey{}).(*seen)
	if err != nil || !ok {
		return resp, err
	}
	s.status, s.header = resp.StatusCode, resp.Header
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGraphQLBody))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var answer struct {
		Errors []struct {
			Type string `json:"type"`
		} `json:"errors"`
	}
	if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &answer) == nil {
		for _, e := range answer.Errors {
			s.types = append(s.types, e.Type)
		}
	}
	s.secondary = resp.StatusCode == http.StatusForbidden && strings.Contains(strings.ToLower(string(body)), "secondary rate limit")
	return resp, nil
}

// query runs one GraphQL query under the retry policy.
func (c *Client) query(ctx context.Context, op string, q any, vars map[string]any) error {
	return c.call(ctx, op, read, func(try context.Context) (retry.Answer, error) {
		var s seen
		err := c.gql.Query(context.WithValue(try, seenKey{}, &s), q, vars)
		return s.answer(err, time.Now()), err
	})
}

// answer reads an attempt's answer as the retry loop wants it. GraphQL
// says "not found" and "forbidden" with 200 and an error's type; GitHub
// rate limits its GraphQL API with the REST API's headers, a 403 or 429
// for the secondary limits and a RATE_LIMITED error for the primary.
func (s seen) answer(err error, now time.Time) retry.Answer {
	ans := retry.Answer{Status: s.status}
	if err == nil || s.header == nil {
		return ans
	}
	ans.RetryAfter = retry.RetryAfter(s.header, now)
	switch {
	case slices.Contains(s.types, "NOT_FOUND"):
		ans.Status = http.StatusNotFound
	case slices.Contains(s.types, "RATE_LIMITED") || s.header.Get("X-RateLimit-Remaining") == "0":
		ans.Throttled = true
		if reset, perr := strconv.ParseInt(s.header.Get("X-RateLimit-Reset"), 10, 64); perr == nil {
			// Reset has whole seconds: a second more is never too early.
			ans.RetryAfter = max(ans.RetryAfter, time.Unix(reset, 0).Sub(now)+time.Second)
		}
		if ans.RetryAfter <= 0 {
			ans.RetryAfter = secondaryWait
		}
	case s.secondary, s.status == http.StatusForbidden && ans.RetryAfter > 0:
		ans.Throttled = true
		if ans.RetryAfter == 0 {
			ans.RetryAfter = secondaryWait
		}
	case s.status == http.StatusTooManyRequests:
		// As on REST: without a Retry-After, the usual backoff.
		ans.Throttled = true
	case slices.Contains(s.types, "FORBIDDEN"):
		ans.Status = http.StatusForbidden
	}
	return ans
}
