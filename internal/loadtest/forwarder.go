package loadtest

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// forwarder spreads the forge's webhook deliveries over the replicas,
// round robin, as a load balancer in front of them would.
type forwarder struct {
	srv    *http.Server
	ln     net.Listener
	client *http.Client

	// successes are the arrivals of pipeline success webhooks.
	successes arrivals

	mu      sync.Mutex
	targets []string
	next    int
}

func startForwarder() (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(ln)
	return f, nil
}

func (f *forwarder) URL() string { return "http://" + f.ln.Addr().String() }

func (f *forwarder) close() { f.srv.Close() }

func (f *forwarder) add(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets = append(f.targets, "http://"+addr)
}

func (f *forwarder) pick() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.targets[f.next%len(f.targets)]
	f.next++
	return t
}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.successes.note(r.Header, body, time.Now())
	req, err := http.NewRequestWithContext(r.Context(), r.Method, f.pick()+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := f.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
