package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ForgeTransport wraps next (nil: http.DefaultTransport) so that every
// HTTP request a forge client makes is counted by forge, operation and
// status code, and timed until its answer's headers. route names a
// request's operation; it must give few distinct values, as the forge
// packages' Route functions do ("GET /projects/:project/merge_requests/:iid").
// A request that got no answer counts with code "error". Retries count
// once per attempt.
func (m *Metrics) ForgeTransport(forgeName string, route func(*http.Request) string, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	labels := prometheus.Labels{"forge": forgeName}
	return &forgeTransport{
		next:     next,
		route:    route,
		requests: m.forgeRequests.MustCurryWith(labels),
		took:     m.forgeTook.MustCurryWith(labels),
	}
}

type forgeTransport struct {
	next     http.RoundTripper
	route    func(*http.Request) string
	requests *prometheus.CounterVec
	took     prometheus.ObserverVec
}

func (t *forgeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := t.route(r)
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	t.took.WithLabelValues(op).Observe(time.Since(start).Seconds())
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.requests.WithLabelValues(op, code).Inc()
	return resp, err
}
