package compat

import (
	"context"
	"errors"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
	sdkauth "github.com/databricks/databricks-sdk-go/config/experimental/auth"
	"github.com/databricks/databricks-sdk-go/credentials/u2m"
	"github.com/databricks/databricks-sdk-go/credentials/u2m/cache"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"golang.org/x/oauth2"
)

// memoryCache is a token cache in memory: the test's stand-in for
// ~/.databricks/token-cache.json.
type memoryCache struct {
	mu     sync.Mutex
	tokens map[string]*oauth2.Token
}

func (c *memoryCache) Store(key string, t *oauth2.Token) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens[key] = copyToken(t)
	return nil
}

func (c *memoryCache) Lookup(key string) (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.tokens[key]; ok {
		return copyToken(t), nil
	}
	return nil, cache.ErrNotFound
}

// copyToken copies t, as the SDK's file cache hands out a fresh token on
// every lookup (PersistentAuth clears the refresh token of what it gets).
func copyToken(t *oauth2.Token) *oauth2.Token {
	c := *t
	return &c
}

// TestOAuthU2M runs the SDK's own `databricks auth login` flow against
// kiln: the SDK's PersistentAuth discovers kiln's endpoints, starts its
// loopback listener and opens the authorize URL, which Chromium (driven by
// chromedp) follows through kiln's sign-in and consent pages to the
// listener; the SDK redeems the code with its PKCE verifier, then calls
// the API as the user, and refreshes.
func TestOAuthU2M(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is required (the README's test command installs it): ", err)
	}
	env := startKiln(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()))...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	browserDone := make(chan error, 1)
	browser := func(authorizeURL string) error {
		go func() {
			for _, step := range []chromedp.Action[chromedp.Void]{
				chromedp.Navigate(authorizeURL),
				chromedp.WaitVisible(`#email`),
				chromedp.SendKeys(`#email`, adminEmail),
				chromedp.SendKeys(`#password`, adminPassword),
				chromedp.Click(`button[type=submit]`),
				chromedp.WaitVisible(`#authorize-allow`),
				chromedp.Click(`#authorize-allow`),
			} {
				if _, err := chromedp.Run(tab, step); err != nil {
					browserDone <- err
					return
				}
			}
			browserDone <- nil
		}()
		return nil
	}

	arg, err := u2m.NewBasicWorkspaceOAuthArgument(env.URL)
	must(t, err, "NewBasicWorkspaceOAuthArgument")
	tokens := &memoryCache{tokens: map[string]*oauth2.Token{}}
	pa, err := u2m.NewPersistentAuth(ctx, u2m.WithOAuthArgument(arg), u2m.WithTokenCache(tokens), u2m.WithBrowser(browser))
	must(t, err, "NewPersistentAuth")
	defer pa.Close()
	must(t, pa.Challenge(), "Challenge (auth login)")
	select {
	case err := <-browserDone:
		must(t, err, "the browser's sign-in and consent")
	case <-ctx.Done():
		t.Fatal("the browser did not finish")
	}
	first, err := tokens.Lookup(arg.GetCacheKey())
	must(t, err, "the cached token")
	if first.RefreshToken == "" || first.AccessToken == "" {
		t.Fatalf("login stored %+v, want an access and a refresh token", first)
	}

	w := env.clientFrom(t, &databricks.Config{Host: env.URL,
		Credentials: config.NewTokenSourceStrategy("u2m", sdkauth.TokenSourceFn(func(context.Context) (*oauth2.Token, error) { return pa.Token() }))})
	me, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
	must(t, err, "CurrentUser.Me after auth login")
	if me.UserName != adminEmail {
		t.Errorf("Me is %q, want %q", me.UserName, adminEmail)
	}

	// A refresh replaces both tokens; the new access token works and the
	// old refresh token is spent.
	refreshed, err := pa.ForceRefreshToken()
	must(t, err, "ForceRefreshToken")
	live, err := tokens.Lookup(arg.GetCacheKey())
	must(t, err, "the refreshed cached token")
	if refreshed.AccessToken == first.AccessToken || live.RefreshToken == "" || live.RefreshToken == first.RefreshToken {
		t.Errorf("the refresh returned the same tokens")
	}
	_, err = w.CurrentUser.Me(ctx, iam.MeRequest{})
	must(t, err, "CurrentUser.Me after the refresh")
	must(t, tokens.Store(arg.GetCacheKey(), first), "restoring the spent token")
	env.rec.beginExpected()
	_, err = pa.ForceRefreshToken()
	env.rec.endExpected()
	var invalid *u2m.InvalidRefreshTokenError
	if !errors.As(err, &invalid) {
		t.Errorf("reusing a spent refresh token: %v, want the SDK's InvalidRefreshTokenError", err)
	}

	// Revoking the app on User Settings, Apps (in the same browser, signed
	// in) ends its access token at the next call and its refresh token.
	must(t, tokens.Store(arg.GetCacheKey(), live), "restoring the live token")
	for i, step := range []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(env.URL + "/settings/apps"),
		chromedp.WaitVisible(`td[data-label="App"]`),
		// The row's Revoke opens the confirmation page (form.submit()
		// skips the script's dialog), whose Confirm posts.
		chromedp.Submit(`td.row-actions form`),
		chromedp.WaitVisible(`#confirm-title`),
		chromedp.Click(`section.card form button.danger`),
		chromedp.WaitVisible(`.flash-ok`),
	} {
		sctx, cancelStep := context.WithTimeout(tab, 20*time.Second)
		_, err := chromedp.Run(sctx, step)
		cancelStep()
		if err != nil {
			t.Fatalf("revoking the app in the console, step %d: %v", i, err)
		}
	}
	env.rec.beginExpected()
	_, err = w.CurrentUser.Me(ctx, iam.MeRequest{})
	if err == nil {
		t.Error("the access token of a revoked app still works")
	}
	_, err = pa.ForceRefreshToken()
	env.rec.endExpected()
	if !errors.As(err, &invalid) {
		t.Errorf("refreshing a revoked app: %v, want the SDK's InvalidRefreshTokenError", err)
	}
}
