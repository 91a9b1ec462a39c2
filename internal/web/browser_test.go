package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The browser tests drive the dashboard in a headless Chromium: one
// browser for the package, started by the first test that needs it and
// stopped by TestMain, and a tab with its own cookies for each test.
// scripts/ensure-chromium.sh installs Chromium (make test runs it);
// TRAINYARD_SKIP_BROWSER=1 skips these tests.

// envSkipBrowser names the variable that skips the browser tests.
const envSkipBrowser = "TRAINYARD_SKIP_BROWSER"

// stepTimeout bounds one step in the browser: loading a page, reading it,
// waiting for what a step causes.
const stepTimeout = 15 * time.Second

var chromium browser

func TestMain(m *testing.M) {
	code := m.Run()
	chromium.stop()
	os.Exit(code)
}

// browser is the shared Chromium. Its profile is a fresh temporary
// directory that chromedp makes and removes, with any process left in it.
type browser struct {
	mu      sync.Mutex
	started bool
	ctx     context.Context // the browser's; each tab's is a child
	cancel  []context.CancelFunc
	err     error
}

// start starts Chromium once; later calls return the first one's result.
func (b *browser) start() (context.Context, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return b.ctx, b.err
	}
	b.started = true
	path, err := exec.LookPath("chromium")
	if err != nil {
		b.err = errors.New("chromium is not installed: run scripts/ensure-chromium.sh (make test does), " +
			"or set " + envSkipBrowser + "=1 to skip the browser tests")
		return nil, b.err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path))
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root, which CI runs as.
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b.cancel = []context.CancelFunc{cancel, cancelAlloc}
	if err := chromedp.Do(ctx); err != nil {
		b.err = fmt.Errorf("start %s: %w", path, err)
		b.stopLocked()
		return nil, b.err
	}
	b.ctx = ctx
	return ctx, nil
}

// stop closes the browser, if it was started, and waits for it to end.
func (b *browser) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx != nil {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		if err := chromedp.Cancel(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "close chromium: %v\n", err)
		}
		cancel()
	}
	b.stopLocked()
}

// stopLocked cancels the browser's context and then its allocator's, which
// waits for the process to end.
func (b *browser) stopLocked() {
	for _, cancel := range b.cancel {
		cancel()
	}
	b.cancel, b.ctx = nil, nil
}

// tab is a browser tab on a system's dashboard, in a browser context of
// its own: no cookies from other tests.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// needBrowser skips the test when TRAINYARD_SKIP_BROWSER=1 and fails it
// when Chromium does not start; a browser test calls it first, before it
// starts anything else. It returns the browser's context.
func needBrowser(t *testing.T) context.Context {
	t.Helper()
	if os.Getenv(envSkipBrowser) == "1" {
		t.Skip(envSkipBrowser + "=1: skipping the browser tests")
	}
	ctx, err := chromium.start()
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// newTab opens a tab on the system's dashboard, closed when the test ends.
func newTab(t *testing.T, s *system) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(needBrowser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first run opens the tab and binds its life to the context it
	// gets: this one, without a step's deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &tab{t: t, ctx: ctx, base: s.url}
}

// do runs steps, failing the test with what the page shows if one fails.
func (p *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%v; the page shows: %s", err, p.shows())
	}
}

// get runs an action that returns a value.
func get[T any](p *tab, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.t.Fatalf("%v; the page shows: %s", err, p.shows())
	}
	return v
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](p *tab, expr string) T {
	p.t.Helper()
	return get(p, chromedp.Evaluate[T](expr))
}

// open loads a page of the dashboard and waits for it to load.
func (p *tab) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base + path))
}

// follow runs a step that loads a page, such as a click on a form's
// button, and returns the status of the page it ends on.
func (p *tab) follow(step chromedp.Action[chromedp.Void]) int64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, step)
	if err != nil {
		p.t.Fatalf("%v; the page shows: %s", err, p.shows())
	}
	return res.Status
}

// path is the path of the page the tab shows.
func (p *tab) path() string {
	p.t.Helper()
	return eval[string](p, "location.pathname")
}

// squash is JavaScript that reads an element's text as it is rendered
// (without what is not shown, such as a script's code), in one line.
const squash = `(e => e.innerText.replace(/\s+/g, " ").trim())`

// text is the text of the first element the CSS selector finds; the test
// fails if there is none.
func (p *tab) text(css string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`(() => {
		const e = document.querySelector(%s);
		if (!e) throw new Error("nothing matches " + %[1]s);
		return %s(e);
	})()`, jsString(css), squash))
}

// texts is the text of every element the CSS selector finds.
func (p *tab) texts(css string) []string {
	p.t.Helper()
	return eval[[]string](p, fmt.Sprintf(`Array.from(document.querySelectorAll(%s), %s)`, jsString(css), squash))
}

// rows is the text of each cell of each body row of the first table in
// the element the CSS selector finds.
func (p *tab) rows(css string) [][]string {
	p.t.Helper()
	return eval[[][]string](p, fmt.Sprintf(`Array.from(document.querySelectorAll(%s + " table tbody tr"),
		r => Array.from(r.cells, %s))`, jsString(css), squash))
}

// shows is the text of the page, for failure messages. It must not fail.
func (p *tab) shows() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + ": " + `+squash+`(document.body)`))
	if err != nil {
		return fmt.Sprintf("(cannot read the page: %v)", err)
	}
	return s
}

// waitUntil waits until the JavaScript condition holds in the page,
// looking again on every change of the DOM, or ctx ends.
func (p *tab) waitUntil(ctx context.Context, cond string) error {
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(0)))
	return err
}

// waitLive waits until the page says its live updates are on: from then
// on the server announces every change of a train to it.
func (p *tab) waitLive() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := p.waitUntil(ctx, `document.querySelector("footer .live").textContent === "Live updates on."`); err != nil {
		p.t.Fatalf("the live updates did not start: %v; the page shows: %s", err, p.shows())
	}
}

// watchDialogs records the message of every JavaScript dialog the tab
// opens, and dismisses it so the page goes on. It returns what it saw so
// far.
func (p *tab) watchDialogs() func() []string {
	p.t.Helper()
	ctx, cancel := context.WithCancel(p.ctx)
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	var (
		mu   sync.Mutex
		seen []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range events {
			if err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, ev.Message)
			mu.Unlock()
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{}); err != nil {
				return
			}
		}
	}()
	p.t.Cleanup(func() {
		cancel()
		<-done
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// jsString writes s as a JavaScript string literal.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
