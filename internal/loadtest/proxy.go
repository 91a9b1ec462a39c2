package loadtest

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Requests counts what the replicas asked of the forge, as the counting
// proxy in front of the fake forge saw it.
type Requests struct {
	// Reads are REST GETs and HEADs and GraphQL queries; Writes every
	// other REST call (and GraphQL mutations).
	Reads, Writes int64
	// CatchUp is the part of Reads the catch-up of missed commands made:
	// GitLab's MR lists with updated_after, GitHub's repository-wide
	// issue comments.
	CatchUp int64
	// Git counts smart HTTP requests (ref advertisements and packs); GitOps
	// only the upload-pack and receive-pack POSTs, one per fetch or push.
	Git, GitOps int64
}

// Sub is r minus an earlier snapshot.
func (r Requests) Sub(o Requests) Requests {
	return Requests{Reads: r.Reads - o.Reads, Writes: r.Writes - o.Writes, CatchUp: r.CatchUp - o.CatchUp,
		Git: r.Git - o.Git, GitOps: r.GitOps - o.GitOps}
}

// Add is r plus o.
func (r Requests) Add(o Requests) Requests {
	return Requests{Reads: r.Reads + o.Reads, Writes: r.Writes + o.Writes, CatchUp: r.CatchUp + o.CatchUp,
		Git: r.Git + o.Git, GitOps: r.GitOps + o.GitOps}
}

// API is every REST and GraphQL request.
func (r Requests) API() int64 { return r.Reads + r.Writes }

// Total is every request, API and git.
func (r Requests) Total() int64 { return r.API() + r.Git }

// forgeProxy forwards the replicas' requests to the fake forge and counts
// them by kind. Counting here rather than in the service's transport sees
// git traffic too, which git's own processes send.
type forgeProxy struct {
	srv *http.Server
	ln  net.Listener
	rp  *httputil.ReverseProxy
	// last and lastChange are the unix nanoseconds of the last request,
	// and of the last one other than a REST read: sweeps only read.
	last, lastChange atomic.Int64

	reads, writes, catchUp, git, gitOps atomic.Int64
}

func startProxy(target string) (*forgeProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &forgeProxy{ln: ln, rp: httputil.NewSingleHostReverseProxy(u)}
	p.rp.Transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// URL is where the replicas reach the forge.
func (p *forgeProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *forgeProxy) close() { p.srv.Close() }

func (p *forgeProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k := kind(r)
	p.count(r, k)
	now := time.Now().UnixNano()
	p.last.Store(now)
	if k == kindWrite || k == kindGit {
		p.lastChange.Store(now)
	}
	p.rp.ServeHTTP(w, r)
}

func (p *forgeProxy) count(r *http.Request, k requestKind) {
	switch k {
	case kindGit:
		p.git.Add(1)
		if r.Method == http.MethodPost {
			p.gitOps.Add(1)
		}
	case kindCatchUp:
		p.reads.Add(1)
		p.catchUp.Add(1)
	case kindRead:
		p.reads.Add(1)
	default:
		p.writes.Add(1)
	}
}

type requestKind int

const (
	kindRead requestKind = iota
	kindWrite
	kindCatchUp
	kindGit
)

// kind sorts a request the way the figures split them.
func kind(r *http.Request) requestKind {
	path := r.URL.Path
	switch {
	case strings.Contains(path, ".git/"):
		return kindGit
	case strings.HasSuffix(path, "/graphql"):
		if isMutation(r) {
			return kindWrite
		}
		return kindRead
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		return kindWrite
	case strings.HasSuffix(path, "/merge_requests") && r.URL.Query().Has("updated_after"),
		strings.HasSuffix(path, "/issues/comments"):
		return kindCatchUp
	}
	return kindRead
}

// isMutation reads a GraphQL request's body, and puts it back, to tell a
// mutation from a query.
func isMutation(r *http.Request) bool {
	if r.Body == nil {
		return false
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return err == nil && bytes.Contains(body, []byte("mutation"))
}

func (p *forgeProxy) snapshot() Requests {
	return Requests{Reads: p.reads.Load(), Writes: p.writes.Load(), CatchUp: p.catchUp.Load(),
		Git: p.git.Load(), GitOps: p.gitOps.Load()}
}

// idleFor reports whether no request came for d.
func (p *forgeProxy) idleFor(d time.Duration) bool {
	return time.Since(time.Unix(0, p.last.Load())) >= d
}

// stillFor reports whether no request but REST reads came for d.
func (p *forgeProxy) stillFor(d time.Duration) bool {
	return time.Since(time.Unix(0, p.lastChange.Load())) >= d
}
