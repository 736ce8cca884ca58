package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/oauth2"
)

// OAuth U2M credentials, shared with the official tools: a profile with
// auth_type = databricks-cli and no token, whose tokens live in the token
// cache the Databricks CLI keeps (~/.databricks/token-cache.json, format
// version 1: {"version": 1, "tokens": {key: oauth2 token}}, keyed by the
// profile name and by the host). kiln auth login writes what databricks
// auth login writes, so either tool uses the other's sign-in.

// AuthTypeU2M is the auth_type of a profile signed in with OAuth.
const AuthTypeU2M = "databricks-cli"

// CLIClientID is the public OAuth client of the Databricks CLI, which
// kiln (like Databricks) knows.
const CLIClientID = "databricks-cli"

// tokenCacheFile is the cache's path under the home directory.
const tokenCacheFile = ".databricks/token-cache.json"

// refreshMargin is how close to its expiry an access token is refreshed
// before use: a request must not outlive its token.
const refreshMargin = time.Minute

type tokenCache struct {
	Version int                      `json:"version"`
	Tokens  map[string]*oauth2.Token `json:"tokens"`
}

// TokenCachePath is the Databricks CLI's token cache under the home
// directory of o.
func TokenCachePath(o LoadOptions) (string, error) {
	home := o.HomeDir
	if home == "" {
		if home = o.getenv("HOME"); home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return "", &ConfigError{Msg: "cannot find the home directory for the OAuth token cache: set HOME", Err: err}
			}
			home = h
		}
	}
	return filepath.Join(home, tokenCacheFile), nil
}

func readTokenCache(path string) (*tokenCache, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &tokenCache{Version: 1, Tokens: map[string]*oauth2.Token{}}, nil
	} else if err != nil {
		return nil, &ConfigError{Msg: fmt.Sprintf("cannot read the OAuth token cache %s: %s", DisplayPath(path), describeFSError(err)), Err: err}
	}
	var c tokenCache
	if err := json.Unmarshal(b, &c); err != nil || c.Version != 1 {
		return nil, configErrorf("the OAuth token cache %s is not a version 1 token cache; move it aside and run kiln auth login", DisplayPath(path))
	}
	if c.Tokens == nil {
		c.Tokens = map[string]*oauth2.Token{}
	}
	return &c, nil
}

// CachedToken returns the token stored under the first of keys found, or
// nil when none is.
func CachedToken(path string, keys ...string) (*oauth2.Token, error) {
	c, err := readTokenCache(path)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if t := c.Tokens[k]; k != "" && t != nil {
			return t, nil
		}
	}
	return nil, nil
}

// StoreToken stores tok under each of keys in the cache at path, keeping
// every other entry; the file is replaced atomically, mode 0600, in a
// directory of mode 0700.
func StoreToken(path string, tok *oauth2.Token, keys ...string) error {
	c, err := readTokenCache(path)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k != "" {
			c.Tokens[k] = tok
		}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return &ConfigError{Msg: fmt.Sprintf("cannot write the OAuth token cache %s: %s", DisplayPath(path), describeFSError(err)), Err: err}
	}
	return nil
}

// OAuthConfig is the Databricks CLI's OAuth client for the workspace at
// host (kiln and Databricks serve the endpoints under /oidc/v1).
func OAuthConfig(host string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: CLIClientID,
		Endpoint: oauth2.Endpoint{AuthURL: host + "/oidc/v1/authorize", TokenURL: host + "/oidc/v1/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"all-apis", "offline_access"},
	}
}

// resolveU2M fills c.Token from the token cache for a profile with
// auth_type databricks-cli, refreshing (and storing the rotated tokens)
// when the access token is within refreshMargin of its expiry.
func (c *Config) resolveU2M(o LoadOptions) error {
	path, err := TokenCachePath(o)
	if err != nil {
		return err
	}
	again := fmt.Sprintf("run `kiln auth login --host %s --profile %s`", c.Host, c.Profile)
	tok, err := CachedToken(path, c.Profile, c.Host)
	if err != nil {
		return err
	}
	if tok == nil {
		return configErrorf("profile %q signs in with OAuth, and %s holds no sign-in for it: %s", c.Profile, DisplayPath(path), again)
	}
	c.TokenSource = fmt.Sprintf("the OAuth sign-in of profile %q", c.Profile)
	if tok.AccessToken != "" && time.Until(tok.Expiry) > refreshMargin {
		c.Token = tok.AccessToken
		return nil
	}
	if tok.RefreshToken == "" {
		return configErrorf("the OAuth sign-in of profile %q has expired: %s", c.Profile, again)
	}
	stale := *tok
	stale.AccessToken = "" // makes the token source refresh now
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, c.HTTPClient())
	fresh, err := OAuthConfig(c.Host).TokenSource(ctx, &stale).Token()
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.ErrorCode == "invalid_grant":
		return configErrorf("the OAuth sign-in of profile %q has ended (its refresh token was refused): %s", c.Profile, again)
	case err != nil:
		return &ConfigError{Msg: fmt.Sprintf("cannot refresh the OAuth sign-in of profile %q at %s: %v", c.Profile, c.Host, err), Err: err}
	}
	if err := StoreToken(path, fresh, c.Profile, c.Host); err != nil {
		return err
	}
	c.Token = fresh.AccessToken
	return nil
}
