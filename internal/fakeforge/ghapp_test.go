package fakeforge

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v82/github"
)

const appID = 4242

func rsaKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// appClient is go-github on ghinstallation's transport, as an app
// installation authenticates.
func appClient(t *testing.T, f *Forge, pemKey []byte, installation int64) (*github.Client, *ghinstallation.Transport) {
	t.Helper()
	tr, err := ghinstallation.New(http.DefaultTransport, appID, installation, pemKey)
	if err != nil {
		t.Fatal(err)
	}
	tr.BaseURL = f.URL() + "/api/v3"
	return onForge(t, f, tr), tr
}

// onForge is go-github on the forge's GitHub API through rt.
func onForge(t *testing.T, f *Forge, rt http.RoundTripper) *github.Client {
	t.Helper()
	c, err := github.NewClient(&http.Client{Transport: rt}).WithEnterpriseURLs(f.URL()+"/api/v3/", f.URL()+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAppInstallationTokens(t *testing.T) {
	key, pemKey := rsaKey(t)
	var skew atomic.Int64 // the forge's clock runs ahead by this much
	f := ghForge(t, func(o *Options) {
		o.GitHub.App = App{ID: appID, PublicKey: &key.PublicKey, TokenTTL: time.Hour}
		o.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	mustProject(t, f, project1, nil)
	mr := mustMR(t, f, MRSpec{Source: "feature", Commits: []Commit{{Files: map[string]string{"a": "a"}}}})
	c, tr := appClient(t, f, pemKey, DefaultInstallationID)
	ctx := context.Background()
	cm, _, err := c.Issues.CreateComment(ctx, "acme", "widgets", int(mr.IID), &github.IssueComment{Body: github.Ptr("hello")})
	if err != nil || cm.GetUser().GetLogin() != AppBot || cm.GetUser().GetType() != "Bot" {
		t.Fatalf("comment as the app: %v, %v", cm, err)
	}
	if f.InstallationTokens() != 1 {
		t.Fatalf("%d tokens issued", f.InstallationTokens())
	}
	token, err := tr.Token(ctx)
	if err != nil || !strings.HasPrefix(token, "ghs_") {
		t.Fatalf("token %q, %v", token, err)
	}
	// The token works for git too, as GitHub's x-access-token.
	dir := t.TempDir()
	mustGit(t, dir, authed(token, "clone", "--quiet", f.CloneURL(project1), "clone")...)

	// Expired on the forge's clock: refused, while the transport still
	// believes in it.
	skew.Store(int64(2 * time.Hour))
	_, _, err = c.PullRequests.Get(ctx, "acme", "widgets", int(mr.IID))
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired token: %v", err)
	}
}

func TestAppTokenRefreshedBeforeExpiry(t *testing.T) {
	key, pemKey := rsaKey(t)
	// ghinstallation refreshes a minute before expiry, so a token of 61s
	// is refreshed after one second.
	f := ghForge(t, func(o *Options) { o.GitHub.App = App{ID: appID, PublicKey: &key.PublicKey, TokenTTL: 61 * time.Second} })
	mustProject(t, f, project1, nil)
	c, _ := appClient(t, f, pemKey, DefaultInstallationID)
	ctx := context.Background()
	if _, _, err := c.Repositories.Get(ctx, "acme", "widgets"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, _, err := c.Repositories.Get(ctx, "acme", "widgets"); err != nil {
		t.Fatal(err)
	}
	if n := f.InstallationTokens(); n != 2 {
		t.Fatalf("%d tokens issued, want a refresh", n)
	}
}

func TestAppJWTIsVerified(t *testing.T) {
	key, goodPEM := rsaKey(t)
	_, otherPEM := rsaKey(t)
	f := ghForge(t, func(o *Options) { o.GitHub.App = App{ID: appID, PublicKey: &key.PublicKey} })
	mustProject(t, f, project1, nil)
	c, _ := appClient(t, f, otherPEM, DefaultInstallationID)
	_, _, err := c.Repositories.Get(context.Background(), "acme", "widgets")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("JWT signed with another key: %v", err)
	}
	c, _ = appClient(t, f, goodPEM, 77)
	if _, _, err := c.Repositories.Get(context.Background(), "acme", "widgets"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown installation: %v", err)
	}
	if f.InstallationTokens() != 0 {
		t.Fatal("issued a token")
	}
	if _, err := New(Options{Dir: t.TempDir(), GitHub: GitHub{App: App{ID: 1}}}); err == nil {
		t.Fatal("an app without a public key was accepted")
	}
}

func TestGitHubRateLimitAnswers(t *testing.T) {
	f := ghForge(t, nil)
	mustProject(t, f, project1, nil)
	c := ghClient(t, f, botToken)
	ctx := context.Background()

	f.SetFaults(Faults{PrimaryRateLimitRate: 1, RetryAfter: 30})
	_, _, err := c.Repositories.Get(ctx, "acme", "widgets")
	var primary *github.RateLimitError
	if !errors.As(err, &primary) || primary.Rate.Remaining != 0 || time.Until(primary.Rate.Reset.Time) < 28*time.Second {
		t.Fatalf("primary limit: %v", err)
	}

	f.SetFaults(Faults{SecondaryRateLimitRate: 1, RetryAfter: 7})
	c = ghClient(t, f, botToken) // go-github remembers the primary limit
	_, _, err = c.Repositories.Get(ctx, "acme", "widgets")
	var secondary *github.AbuseRateLimitError
	if !errors.As(err, &secondary) || secondary.GetRetryAfter() != 7*time.Second {
		t.Fatalf("secondary limit: %v", err)
	}

	f.SetFaults(Faults{RateLimitRate: 1, RetryAfter: 3})
	c = ghClient(t, f, botToken)
	_, resp, err := c.Repositories.Get(ctx, "acme", "widgets")
	if err == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("429: %v", err)
	}
	counts := f.FaultCounts()
	if counts[FaultPrimaryRateLimit] != 1 || counts[FaultSecondaryRateLimit] != 1 || counts[FaultRateLimited] != 1 {
		t.Fatalf("fault counts %v", counts)
	}
	if calls := f.Calls()["GET /repos/{owner}/{repo}"]; calls != 3 {
		t.Fatalf("%d calls counted", calls)
	}
}

// GET /app answers the app its JWT signs for, and nothing to a token.
func TestGetAppNeedsItsJWT(t *testing.T) {
	key, pemKey := rsaKey(t)
	f := ghForge(t, func(o *Options) { o.GitHub.App = App{ID: appID, Slug: "merge-bot", PublicKey: &key.PublicKey} })
	tr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, appID, pemKey)
	if err != nil {
		t.Fatal(err)
	}
	tr.BaseURL = f.URL() + "/api/v3"
	app, _, err := onForge(t, f, tr).Apps.Get(context.Background(), "")
	if err != nil || app.GetSlug() != "merge-bot" || app.GetID() != appID {
		t.Fatalf("GET /app = %v, %v", app, err)
	}
	_, _, err = ghClient(t, f, botToken).Apps.Get(context.Background(), "")
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /app with a token: %v, want 401", err)
	}
}
