// Package sso signs people in to the console through the company's
// OpenID Connect provider (Okta, Entra ID, Keycloak, Dex, Google…): the
// authorization code flow with PKCE, state and nonce, the ID token checked
// by go-oidc (signature against the provider's published keys, issuer,
// audience, expiry), and the claims kiln needs (email, name, groups) taken
// from the ID token or, when it lacks them, from the userinfo endpoint.
//
// The protocol is go-oidc's and golang.org/x/oauth2's; this package only
// decides what to ask for and which claims mean what. Deciding who the
// person is in kiln (matching, creating users, syncing groups) is the
// service's job (service.LoginExternal).
package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kiln-dev/kiln"
)

// Claim defaults: the standard OpenID Connect email claim, and the
// "groups" claim most providers emit (Okta, Keycloak, Dex, Entra ID).
const (
	DefaultEmailClaim  = "email"
	DefaultGroupsClaim = "groups"
)

// DefaultScopes are requested when Config.Scopes is empty. "groups" is
// not a standard scope; providers that want it (Dex) are given it through
// Config.Scopes.
var DefaultScopes = []string{oidc.ScopeOpenID, "email", "profile"}

// Config describes the provider and the client kiln is registered as.
type Config struct {
	// Issuer is the provider's issuer URL; its discovery document is read
	// from Issuer + "/.well-known/openid-configuration". https, or http for
	// a loopback address (tests, a provider on the same host).
	Issuer string
	// ClientID and ClientSecret are kiln's registration at the provider.
	// An empty secret makes kiln a public client (PKCE only).
	ClientID, ClientSecret string
	// Scopes are requested; empty means DefaultScopes. "openid" is always
	// added.
	Scopes []string
	// EmailClaim and GroupsClaim name the claims holding the person's
	// email (their kiln userName) and group names; empty means the
	// defaults.
	EmailClaim, GroupsClaim string
	// HTTPClient reaches the provider; nil is a client with a 10 second
	// timeout.
	HTTPClient *http.Client
}

// Validate reports what is wrong with c, one problem per line, without
// touching the network.
func (c Config) Validate() error {
	var p []string
	u, err := url.Parse(c.Issuer)
	switch {
	case c.Issuer == "":
		p = append(p, "the issuer URL is required")
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		p = append(p, fmt.Sprintf("the issuer %q must be an https:// URL without credentials, query or fragment", c.Issuer))
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		p = append(p, fmt.Sprintf("the issuer %q must use https (http only for a loopback address): ID tokens and codes would cross the network in clear", c.Issuer))
	case u.Scheme != "https" && u.Scheme != "http":
		p = append(p, fmt.Sprintf("the issuer %q must be an https:// URL", c.Issuer))
	}
	if strings.TrimSpace(c.ClientID) == "" {
		p = append(p, "the client id is required")
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "\n"))
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Identity is what the provider says about the person who signed in.
type Identity = kiln.ExternalIdentity

// Attempt is one sign-in in flight: what the browser carries (sealed by
// the console) from the redirect to the provider back to the callback.
type Attempt struct {
	// State binds the callback to this browser; Nonce binds the ID token
	// to this attempt; Verifier is the PKCE code verifier.
	State, Nonce, Verifier string
	// RedirectURL is the callback URL sent to the provider, which the code
	// exchange must repeat.
	RedirectURL string
}

// NewAttempt returns an attempt with fresh random state, nonce and PKCE
// verifier, for the callback at redirectURL.
func NewAttempt(redirectURL string) Attempt {
	return Attempt{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), RedirectURL: redirectURL}
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Provider is a configured identity provider. Discovery happens at the
// first sign-in and is retried on later ones until it succeeds, so kiln
// starts (and password sign-in of break-glass admins works) while the
// provider is down.
type Provider struct {
	cfg Config

	mu       sync.Mutex
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

// New returns the provider for cfg, or the error Validate gives.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.EmailClaim == "" {
		cfg.EmailClaim = DefaultEmailClaim
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = DefaultGroupsClaim
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultScopes
	}
	if !contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Provider{cfg: cfg}, nil
}

// Issuer is the configured issuer URL.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (p *Provider) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.cfg.HTTPClient)
}

// discover reads the provider's discovery document once it answers.
func (p *Provider) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, p.verifier, nil
	}
	op, err := oidc.NewProvider(p.ctx(ctx), p.cfg.Issuer)
	if err != nil {
		return nil, nil, &Error{Reason: "the identity provider could not be reached", Err: err}
	}
	p.provider = op
	p.verifier = op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID})
	return p.provider, p.verifier, nil
}

func (p *Provider) oauth2(op *oidc.Provider, redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret,
		Endpoint: op.Endpoint(), RedirectURL: redirectURL, Scopes: p.cfg.Scopes,
	}
}

// AuthURL is where to send the browser for attempt a.
func (p *Provider) AuthURL(ctx context.Context, a Attempt) (string, error) {
	op, _, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	return p.oauth2(op, a.RedirectURL).AuthCodeURL(a.State, oidc.Nonce(a.Nonce), oauth2.S256ChallengeOption(a.Verifier)), nil
}

// Error is a sign-in that failed. Reason is safe to show the person
// signing in; Err, for the log, may hold what the provider said.
type Error struct {
	Reason string
	Err    error
}

// Error returns the reason and the cause.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func failed(reason string, err error) error { return &Error{Reason: reason, Err: err} }

// Finish completes attempt a with the callback's state and code: it checks
// the state in constant time, exchanges the code (with the PKCE verifier),
// verifies the ID token and its nonce, and returns who signed in. Every
// failure is an *Error.
func (p *Provider) Finish(ctx context.Context, a Attempt, state, code string) (Identity, error) {
	if a.State == "" || subtle.ConstantTimeCompare([]byte(state), []byte(a.State)) != 1 {
		return Identity{}, failed("the sign-in did not start in this browser, or it was started again since", nil)
	}
	if code == "" {
		return Identity{}, failed("the identity provider sent no authorization code", nil)
	}
	op, verifier, err := p.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	ctx = p.ctx(ctx)
	tok, err := p.oauth2(op, a.RedirectURL).Exchange(ctx, code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return Identity{}, failed("the identity provider refused the authorization code", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, failed("the identity provider sent no ID token", nil)
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, failed("the ID token is not valid", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(a.Nonce)) != 1 {
		return Identity{}, failed("the ID token was not issued for this sign-in", nil)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, failed("the ID token's claims cannot be read", err)
	}
	// Many providers keep the ID token small and put email and groups in
	// userinfo only; ask there for what is missing. The userinfo subject
	// must be the ID token's (OpenID Connect Core 5.3.2).
	if _, ok := claims[p.cfg.EmailClaim]; !ok || claims[p.cfg.GroupsClaim] == nil {
		if op.UserInfoEndpoint() != "" {
			ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				return Identity{}, failed("the identity provider's userinfo endpoint failed", err)
			}
			if ui.Subject != idt.Subject {
				return Identity{}, failed("the userinfo answer is about someone else", nil)
			}
			extra := map[string]any{}
			if err := ui.Claims(&extra); err != nil {
				return Identity{}, failed("the userinfo claims cannot be read", err)
			}
			for k, v := range extra {
				if _, ok := claims[k]; !ok || claims[k] == nil {
					claims[k] = v
				}
			}
		}
	}
	return p.identity(idt.Issuer, idt.Subject, claims)
}

// identity maps claims to an Identity.
func (p *Provider) identity(issuer, subject string, claims map[string]any) (Identity, error) {
	id := Identity{Issuer: issuer, Subject: subject}
	email, _ := claims[p.cfg.EmailClaim].(string)
	id.Email = strings.TrimSpace(email)
	if id.Email == "" {
		return Identity{}, failed(fmt.Sprintf("the identity provider sent no %q claim", p.cfg.EmailClaim), nil)
	}
	// A provider that says the address is unverified is saying anyone may
	// have typed it: trusting it would let them take over that kiln user.
	if v, ok := claims["email_verified"].(bool); ok && !v && p.cfg.EmailClaim == DefaultEmailClaim {
		return Identity{}, failed("the identity provider has not verified the email address "+id.Email, nil)
	}
	id.Name, _ = claims["name"].(string)
	id.GivenName, _ = claims["given_name"].(string)
	id.FamilyName, _ = claims["family_name"].(string)
	switch g := claims[p.cfg.GroupsClaim].(type) {
	case nil:
	case string:
		id.HasGroups = true
		if g = strings.TrimSpace(g); g != "" {
			id.Groups = []string{g}
		}
	case []any:
		id.HasGroups = true
		for _, v := range g {
			if s, ok := v.(string); ok && strings.TrimSpace(s) != "" {
				id.Groups = append(id.Groups, strings.TrimSpace(s))
			}
		}
	default:
		return Identity{}, failed(fmt.Sprintf("the %q claim is neither a string nor a list of strings", p.cfg.GroupsClaim), nil)
	}
	return id, nil
}
