package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/trainyard/trainyard/internal/fakeforge"
	"github.com/trainyard/trainyard/internal/forge"
)

const appID = 31337

func appForge(t *testing.T, ttl time.Duration) (*fakeforge.Forge, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := newForge(t, func(o *fakeforge.Options) {
		o.GitHub.App = fakeforge.App{ID: appID, InstallationID: 7, PublicKey: &key.PublicKey, TokenTTL: ttl}
	})
	return f, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

func TestAppAuthentication(t *testing.T) {
	// ghinstallation renews a token a minute before it expires: one of
	// 64 seconds is renewed after four, time enough for the first calls
	// on a busy machine.
	f, key := appForge(t, 64*time.Second)
	c := newClient(t, f, func(o *Options) { o.Token, o.App = "", &App{ID: appID, InstallationID: 7, PrivateKey: key} })
	ctx := context.Background()
	mr := openMR(t, f, "feature", map[string]string{"a": "a"})
	if got, err := c.MergeRequest(ctx, project, mr.IID); err != nil || got.HeadSHA != mr.SHA {
		t.Fatalf("MergeRequest as the app: %+v, %v", got, err)
	}
	if err := c.Comment(ctx, project, mr.IID, "hello"); err != nil {
		t.Fatal(err)
	}
	notes, err := c.Notes(ctx, project, mr.IID)
	if err != nil || len(notes) != 1 || notes[0].Author != fakeforge.AppBot {
		t.Fatalf("notes: %+v, %v", notes, err)
	}
	// GraphQL goes with the same installation token.
	if rules, err := c.MergeRules(ctx, project, mr.IID, ""); err != nil || !rules.Met() {
		t.Fatalf("MergeRules as the app: %+v, %v", rules, err)
	}
	if n := f.InstallationTokens(); n != 1 {
		t.Fatalf("%d installation tokens, want 1 for four calls", n)
	}
	time.Sleep(4100 * time.Millisecond)
	if _, err := c.BranchHead(ctx, project, "main"); err != nil {
		t.Fatal(err)
	}
	if n := f.InstallationTokens(); n != 2 {
		t.Fatalf("%d installation tokens, want one renewal", n)
	}
	// git pushes with the installation token, as x-access-token.
	gitToken, err := c.GitToken(ctx)
	if err != nil || !strings.HasPrefix(gitToken, "ghs_") {
		t.Fatalf("git token %q, %v", gitToken, err)
	}
	out, err := gitCmd(t, "-c", "http.extraHeader="+fakeforge.GitAuthHeader(gitToken), "ls-remote", c.CloneURL(project), "refs/heads/main")
	if err != nil || !strings.Contains(out, "refs/heads/main") {
		t.Fatalf("git ls-remote with the app's token: %v\n%s", err, out)
	}
}

func TestAppWithTheWrongKeyIsRefused(t *testing.T) {
	f, _ := appForge(t, time.Hour)
	_, other := appForge(t, time.Hour)
	c := newClient(t, f, func(o *Options) { o.Token, o.App = "", &App{ID: appID, InstallationID: 7, PrivateKey: other} })
	_, err := c.MergeRequest(context.Background(), project, 1)
	if !errors.Is(err, forge.ErrUnauthorized) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong key: %v", err)
	}
	if f.InstallationTokens() != 0 {
		t.Fatal("a token was issued")
	}
	if calls := f.Calls()["POST /app/installations/{installation_id}/access_tokens"]; calls != 1 {
		t.Fatalf("%d token requests: a refused JWT is not retried", calls)
	}
}

func gitCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
