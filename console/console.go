// Package console serves kiln's web console: sign-in, User Settings (the
// Access Tokens and Password tabs), the Admin Console (Access Control,
// Users, Service Principals, Tokens and Audit Log), and Jobs (jobs, runs
// and each run's page, at the run_page_url the Jobs API gives).
//
// Pages are rendered on the server with html/template from files embedded
// in the binary, styled by one stylesheet and enhanced by one small script
// (dialogs, copy to clipboard); the Jobs pages add one of each (run states,
// and the updates of an active run's page; a run's task graph is SVG
// drawn on the server). Long lists page on the server (paging.go). Nothing
// is loaded from elsewhere, and every flow works with scripts off: each
// dialog also exists as a page reached by an ordinary form.
//
// Secrets (secrets.go: scopes, their keys but never a value, their ACLs),
// DBFS (dbfs.go: a file browser with upload and download) and the
// Permissions of jobs, workspace objects and clusters (permissions.go)
// follow the same pattern.
//
// The labels of the token flow (Account, User Settings, Admin Console,
// Access Control, Personal Access Tokens, Enable, Disable, Confirm,
// Generate New Token, Comment, Lifetime (days), Generate, Copy, Done,
// Revoke) are Databricks' own and a contract: users, runbooks, screenshots
// and the browser tests rely on them, so change them only together.
//
// Every action goes through the workspace service with the signed-in user
// as the caller, so the console enforces exactly the rules the REST API
// does. Security measures, each explained where it is implemented:
// stateless signed session cookies (session.go), http.CrossOriginProtection
// on every state-changing request, sign-in throttling (throttle.go), a
// strict Content-Security-Policy, local-only redirects after sign-in, and
// token values that exist only in the one response that shows them.
package console

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/clientip"
	"github.com/kiln-dev/kiln/service"
	"github.com/kiln-dev/kiln/sso"
)

// Console is the web console handler.
type Console struct {
	svc       *service.Service
	index     *auth.Index
	log       *slog.Logger
	now       func() time.Time
	sealer    *sealer
	guard     *loginGuard
	pages     map[string]*template.Template
	static    *staticFiles
	httpsBase bool
	handler   http.Handler
	clientIP  *clientip.Resolver // believes X-Forwarded-For from trusted proxies only

	// Single sign-on (sso.go): nil sso offers none.
	sso           *sso.Provider
	ssoLabel      string
	ssoPolicy     service.SSOPolicy
	passwordLogin service.PasswordLogin
	base          *url.URL // the public base URL; nil without one
}

// Config is what the console needs from the server that mounts it.
// Service, Index and SessionKey are required.
type Config struct {
	// Service carries out every action, with the signed-in user as the
	// caller, so the console enforces exactly the REST API's rules.
	Service *service.Service
	// Index resolves session users to principals.
	Index *auth.Index
	// SessionKey signs and encrypts session cookies: 32 bytes, the same
	// on every replica, changed to sign everyone out.
	SessionKey []byte
	// ClientIP finds client addresses behind trusted proxies (sign-in
	// throttling, audit); nil uses the TCP peer.
	ClientIP *clientip.Resolver
	// BaseURL is the public URL; an https:// one makes cookies Secure, and
	// its origin is trusted by the cross-origin check behind a proxy that
	// rewrites Host.
	BaseURL string
	// Log receives the console's warnings; nil discards.
	Log *slog.Logger
	// Now is the clock of session timeouts; nil is time.Now (tests move
	// it to expire sessions).
	Now func() time.Time
	// SSO, when set, offers sign-in through the company's OpenID Connect
	// provider at /login/sso; it needs BaseURL, whose SSOCallbackPath is
	// the redirect URI registered with the provider.
	SSO *sso.Provider
	// SSOLabel names the provider on the sign-in button ("Sign in with
	// Okta"); empty reads "Sign in with single sign-on".
	SSOLabel string
	// SSOPolicy is what single sign-on does with people kiln does not know
	// and with their groups.
	SSOPolicy service.SSOPolicy
	// PasswordLogin says who may sign in with a password; empty is
	// service.PasswordLoginAll.
	PasswordLogin service.PasswordLogin
}

// New returns the console. It parses every template at once and panics
// if one is missing or broken: they are embedded, so that is a build
// defect to catch at startup (and in tests), not at the first request.
func New(cfg Config) *Console {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		panic("console: " + err.Error())
	}
	static, err := embedded()
	if err != nil {
		panic("console: " + err.Error())
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Console{
		svc: cfg.Service, index: cfg.Index, log: log, now: cfg.Now,
		sealer: newSealer(cfg.SessionKey), guard: newLoginGuard(cfg.Now),
		pages: pages, static: static,
		httpsBase: strings.HasPrefix(strings.ToLower(cfg.BaseURL), "https://"),
		clientIP:  cfg.ClientIP,
		sso:       cfg.SSO, ssoLabel: cfg.SSOLabel, ssoPolicy: cfg.SSOPolicy, passwordLogin: cfg.PasswordLogin,
	}
	if c.ssoLabel == "" {
		c.ssoLabel = "single sign-on"
	}
	if c.passwordLogin == "" {
		c.passwordLogin = service.PasswordLoginAll
	}
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Scheme != "" && u.Host != "" {
		c.base = u
	} else if c.sso != nil {
		panic("console: single sign-on needs a base URL") // server.Config.Validate refuses it first
	}

	// CrossOriginProtection refuses state-changing requests (anything but
	// GET, HEAD and OPTIONS) that the browser marks as coming from another
	// origin: Sec-Fetch-Site other than same-origin, or an Origin that does
	// not match Host. No token needs to travel in every form, and it covers
	// the sign-in form (login CSRF) and log out too. A request with neither
	// header passes: it comes from a non-browser client or a browser too
	// old to send them (before 2020), for which the SameSite=Lax session
	// cookie, withheld from cross-site POSTs, is the defence.
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Scheme != "" && u.Host != "" {
		// Behind a proxy that rewrites Host, the public origin still
		// matches.
		if err := cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			log.Warn("console: base URL is not a usable origin", "base_url", cfg.BaseURL, "err", err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(c.crossOriginRefused))

	c.handler = c.securityHeaders(cop.Handler(c.routes()))
	return c
}

// ServeHTTP serves a console request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// handlerFunc is a console handler that returns its error instead of
// writing it, so that every error page is rendered in one place.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// maxFormBytes bounds a form body: the largest legitimate form (a token
// comment of 512 bytes) is far below it.
const maxFormBytes = 64 << 10

func (c *Console) adapt(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					c.fail(w, r, kiln.Errorf(kiln.EInvalid, "The form is too large to accept. Shorten what you entered and try again."))
				} else {
					c.fail(w, r, kiln.Errorf(kiln.EInvalid, "The form could not be read. Reload the page and try again."))
				}
				return
			}
		}
		if err := h(w, r); err != nil {
			c.fail(w, r, err)
		}
	})
}

// securityHeaders sets the headers every console response carries. The
// csp is the console's Content-Security-Policy. loopbackFormCSP is the
// OAuth consent page's: its form's answer redirects to the client's
// loopback listener, which form-action must allow (browsers apply it to
// the redirect too).
const (
	cspBase         = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
	csp             = cspBase + "form-action 'self'"
	loopbackFormCSP = cspBase + "form-action 'self' http://localhost:* http://127.0.0.1:* http://[::1]:*"
)

// Content-Security-Policy allows only the console's own script, styles
// and images (no inline script, so injected markup cannot run code), no
// framing (clickjacking) and form posts only to the console itself.
func (c *Console) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		// Pages show account data and, once, secrets: never cache them.
		// Static files override this with a long cache of their own.
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// requireUser admits requests with a valid session and puts the user in
// the request context as the caller. Others are sent to sign in, with a
// note when their session has just ended.
func (c *Console) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, state := c.sessionUser(w, r)
		if state != sessionValid {
			if state != sessionNone {
				c.clearSession(w, r)
			}
			q := url.Values{}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				q.Set("next", r.URL.RequestURI())
			}
			if state == sessionExpired || state == sessionVoid {
				q.Set("ended", "1")
			}
			target := "/login"
			if len(q) > 0 {
				target += "?" + q.Encode()
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		ctx := kiln.NewContextWithCaller(r.Context(), &kiln.Caller{Principal: p, Method: "session"})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// sessionUser checks the session cookie and returns its user. A valid
// session whose activity stamp is older than refreshEvery is re-issued,
// which slides the idle timeout.
func (c *Console) sessionUser(w http.ResponseWriter, r *http.Request) (*kiln.Principal, sessionState) {
	ss, ok := c.readSession(r)
	if !ok {
		return nil, sessionNone
	}
	// The principal snapshot is in memory (the token index keeps it current
	// within the change-poll interval), so checking a session costs no
	// database read.
	p, _ := c.index.Principal(ss.UserID)
	now := c.now()
	state := checkSession(ss, p, now)
	if state == sessionValid && now.Sub(ss.Active) >= refreshEvery {
		ss.Active = now
		c.setSession(w, r, ss)
	}
	return p, state
}

// requireAdmin refuses non-admins with a page that names nothing of what
// they cannot see.
func (c *Console) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !currentUser(r).IsAdmin() {
			c.renderError(w, r, http.StatusForbidden, "Not allowed", "Only workspace admins can open this page.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// currentUser is the signed-in user of a request that passed requireUser.
func currentUser(r *http.Request) *kiln.Principal {
	if c := kiln.CallerFromContext(r.Context()); c != nil {
		return c.Principal
	}
	return nil
}

// home sends visitors to User Settings, or to sign in.
func (c *Console) home(w http.ResponseWriter, r *http.Request) error {
	if _, state := c.sessionUser(w, r); state == sessionValid {
		http.Redirect(w, r, "/settings", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// errNoSuchPage is the error of a path whose pattern matched but whose
// parameters name nothing.
var errNoSuchPage = kiln.Errorf(kiln.ENotFound, "There is no page at this address.")

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		c.renderError(w, r, http.StatusMethodNotAllowed, "Not allowed", "This page cannot be used that way.")
		return nil
	}
	c.renderError(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.")
	return nil
}

func (c *Console) crossOriginRefused(w http.ResponseWriter, r *http.Request) {
	c.renderError(w, r, http.StatusForbidden, "Request refused",
		"This form was sent from another site, so kiln refused it and changed nothing. If you meant to do this, open kiln directly and try again.")
}

// fail renders err as an error page: its safe message only, never internal
// text (which is logged instead).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := api.ErrorStatus(w.Header(), err)
	if status >= 500 {
		level := slog.LevelError
		if errors.Is(err, context.Canceled) {
			level = slog.LevelInfo
		}
		c.log.Log(r.Context(), level, "console request failed", "err", err, "method", r.Method, "path", r.URL.Path)
	}
	title := "Something went wrong"
	switch status {
	case http.StatusNotFound:
		title = "Page not found"
	case http.StatusForbidden:
		title = "Not allowed"
	case http.StatusBadRequest:
		title = "Cannot do that"
	}
	c.renderError(w, r, status, title, kiln.ErrorMessage(err))
}

// page is what every template receives.
type page struct {
	// Title is the page's own title; the layout appends the section and
	// "kiln".
	Title string
	// Section is "User Settings", "Admin Console" or "" (sign-in, errors).
	Section string
	// Tab is the path of the current tab, to mark it.
	Tab   string
	User  *kiln.Principal
	Flash *flash
	// Data is the page's own data.
	Data any
	// Ending are the signed-in user's tokens that end soon, for the
	// banner every page shows.
	Ending []endingToken
}

// tab is one tab of a section.
type tab struct {
	Path, Label string
	Current     bool
}

var sectionTabs = map[string][]tab{
	"User Settings": {{Path: "/settings", Label: "Access Tokens"}, {Path: appsPath, Label: "Apps"}, {Path: "/settings/password", Label: "Password"}},
	adminSection: {
		{Path: "/admin/access-control", Label: "Access Control"},
		{Path: "/admin/users", Label: "Users"},
		{Path: "/admin/service-principals", Label: "Service Principals"},
		{Path: "/admin/tokens", Label: "Tokens"},
		{Path: "/admin/webhooks", Label: "Webhooks"},
		{Path: "/admin/audit", Label: "Audit Log"},
	},
}

// Tabs lists the tabs of the page's section, the current one marked.
func (p *page) Tabs() []tab {
	tabs := append([]tab(nil), sectionTabs[p.Section]...)
	for i := range tabs {
		tabs[i].Current = tabs[i].Path == p.Tab
	}
	return tabs
}

// Admin reports whether the viewer is an admin (for the account menu).
func (p *page) Admin() bool { return p.User != nil && p.User.IsAdmin() }

// FullTitle is the content of <title>.
func (p *page) FullTitle() string {
	parts := []string{}
	if p.Title != "" {
		parts = append(parts, p.Title)
	}
	if p.Section != "" && p.Section != p.Title {
		parts = append(parts, p.Section)
	}
	return strings.Join(append(parts, "kiln"), " · ")
}

// render executes a page template into a buffer first, so that a template
// error becomes a clean error page rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t, ok := c.pages[name]
	if !ok {
		// parsePages checks every name used here; reaching this is a bug.
		c.log.Error("console: no such page template", "page", name)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	if p.User == nil {
		p.User = currentUser(r)
	}
	if p.Flash == nil {
		p.Flash = c.takeFlash(w, r)
	}
	if p.User != nil && p.Ending == nil {
		p.Ending = c.endingTokens(r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console: rendering a page", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorData struct {
	Message string
}

func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	p := &page{Title: title, Data: errorData{Message: msg}}
	// Error pages outside requireUser still show the header of a signed-in
	// user, so they are not a dead end.
	if currentUser(r) == nil {
		if ss, ok := c.readSession(r); ok {
			if u, _ := c.index.Principal(ss.UserID); checkSession(ss, u, c.now()) == sessionValid {
				p.User = u
			}
		}
	}
	c.render(w, r, status, "error", p)
}

// redirectWith sets a flash message and redirects to target with 303, the
// second half of Post/Redirect/Get.
func (c *Console) redirectWith(w http.ResponseWriter, r *http.Request, target, kind, msg string) {
	if msg != "" {
		c.setFlash(w, r, kind, msg)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// clientAddr is the client's IP address (without port), from
// X-Forwarded-For when the request came through a trusted proxy.
func (c *Console) clientAddr(r *http.Request) string { return c.clientIP.Addr(r) }

// localPath returns next if it is safe to redirect to after sign-in: a
// path on this server. Anything else ("" included) yields "". It refuses
// "//host" and "/\host" (browsers read both as another host), any
// backslash, whitespace or control character (browsers drop tabs and
// newlines from URLs, so "/\t/host" would become "//host"), and anything
// with a scheme or host.
func localPath(next string) string {
	if len(next) == 0 || len(next) > 2048 || next[0] != '/' {
		return ""
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return ""
	}
	for _, r := range next {
		if r == '\\' || r <= 0x20 || r == 0x7f {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	// Sending someone back to sign-in or log-out after signing in helps
	// nobody.
	if u.Path == "/login" || u.Path == "/logout" || strings.HasPrefix(u.Path, "/login/") {
		return ""
	}
	return next
}
