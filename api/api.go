// Package api serves the Databricks-compatible REST API: tokens, token
// management and token permissions, workspace settings, SCIM identities,
// the Workspace, Secrets and DBFS APIs, jobs, runs and the local cluster,
// host metadata, and kiln's own endpoints (audit log, current token). It
// decodes requests leniently where real clients are lenient,
// authenticates them against the in-memory token index, calls the
// service, and writes every error through one table (errors.go). Its route
// table is routes.go; the server mounts it (server/handler.go).
package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/clientip"
	"github.com/kiln-dev/kiln/metrics"
	"github.com/kiln-dev/kiln/service"
)

// Config wires a Server. Service, Index, Denials and Throttle are
// required; Log defaults to discarding.
type Config struct {
	Service  *service.Service
	Index    *auth.Index
	Denials  *service.Denials
	Throttle *auth.Throttle
	Log      *slog.Logger
	// WorkspaceID is reported in host metadata.
	WorkspaceID int64
	// AccountID is reported in host metadata (kiln.Workspace.AccountID).
	AccountID string
	// BaseURL is the public URL of the server, e.g. https://kiln.example.com.
	// Empty, links name the server's own address that each request's
	// connection reached, never the request's Host header.
	BaseURL string
	// ClientIP finds client addresses (X-Forwarded-For from trusted
	// proxies); nil uses the TCP peer.
	ClientIP *clientip.Resolver
}

// Server is the REST API handler. It sets no transport headers and logs
// no access lines: the server's root handler does, for every path.
type Server struct {
	svc       *service.Service
	index     *auth.Index
	denials   *service.Denials
	throttle  *auth.Throttle
	log       *slog.Logger
	orgID     string
	wsID      int64
	accountID string
	baseURL   string
	mux       *http.ServeMux
	meBodies  renderedPrincipals
	clientIP  *clientip.Resolver
}

// New returns the API server.
func New(c Config) *Server {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		svc: c.Service, index: c.Index, denials: c.Denials, throttle: c.Throttle,
		log: c.Log, orgID: strconv.FormatInt(c.WorkspaceID, 10), wsID: c.WorkspaceID, accountID: c.AccountID, baseURL: c.BaseURL,
		mux: http.NewServeMux(), clientIP: c.ClientIP,
	}
	s.routes()
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handlerFunc is an API handler that returns its error instead of
// writing it, so that every error goes through writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// public registers a handler that needs no credential.
func (s *Server) public(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, metrics.Route(pattern, s.adapt(h)))
}

// authed registers a handler that needs a valid token.
func (s *Server) authed(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, metrics.Route(pattern, s.authenticate(scopeArea(pattern), s.adapt(h))))
}

// authedLimit is authed with its own request body limit instead of
// maxBodyBytes, for the few routes that take uploads (workspace import,
// DBFS put and add-block).
func (s *Server) authedLimit(pattern string, limit int64, h handlerFunc) {
	s.mux.Handle(pattern, metrics.Route(pattern, s.authenticate(scopeArea(pattern), s.adaptLimit(h, limit))))
}

func (s *Server) adapt(h handlerFunc) http.Handler { return s.adaptLimit(h, maxBodyBytes) }

func (s *Server) adaptLimit(h handlerFunc, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			// A request without a body (most GETs) keeps http.NoBody, which
			// readBody recognises without reading or allocating.
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// fallbackPattern is the catch-all route; a request that lands on it had
// no API route for its path, or none for its method.
const fallbackPattern = "/"

// notFound answers requests no route matches: 405 when the path exists
// for another method, and a JSON 404 otherwise.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) error {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != fallbackPattern && pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		for _, m := range allowed {
			w.Header().Add("Allow", m)
		}
		return kiln.Errorf(kiln.EMethodNotAllowed, "%s is not allowed on %s.", r.Method, r.URL.Path)
	}
	return kiln.Errorf(kiln.ENotFound, "No API found for '%s %s'.", r.Method, r.URL.Path)
}

// TokensDisabledHeader is set to "true" on the refusal of an otherwise
// valid token while personal access tokens are disabled workspace-wide.
const TokensDisabledHeader = "X-Kiln-Tokens-Disabled"

// authenticate admits requests carrying a valid token. No credential is a
// 401; a bad, revoked or expired token, or any token while tokens are
// disabled, is a 403 "Invalid access token." (the reason goes to the audit
// log); repeated failures from one address become transient 429s.
func (s *Server) authenticate(area string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := kiln.CallerFromContext(r.Context()); c != nil {
			next.ServeHTTP(w, r) // already authenticated (console session, unscoped)
			return
		}
		cred, err := auth.ParseAuthorization(r.Header.Get("Authorization"))
		if errors.Is(err, auth.ErrNoCredential) {
			s.writeError(w, r, kiln.Errorf(kiln.EUnauthenticated, "Credential was not sent or was of an unsupported type for this API."))
			return
		}
		var (
			caller *kiln.Caller
			denial auth.Denial
		)
		addr := s.clientIP.Addr(r)
		if err != nil {
			denial = auth.Denial{Reason: auth.ReasonMalformed}
		} else if cred.User == "" && auth.LooksLikeJWT(cred.Token) {
			caller, denial = s.index.CheckAccessToken(cred.Token)
		} else {
			caller, denial = s.index.CheckFrom(cred.Token, addr)
			if caller != nil && cred.User != "" && cred.User != "token" && !equalFold(cred.User, caller.Principal.UserName) {
				caller, denial = nil, auth.Denial{Reason: "basic user does not own the token", TokenID: caller.TokenID, OwnerID: caller.Principal.ID}
			}
		}
		if caller == nil {
			s.denials.Record(addr, denial.Reason, denial.TokenID, denial.OwnerID)
			if !s.throttle.Fail(addr) {
				w.Header()["Retry-After"] = []string{strconv.Itoa(int(s.throttle.RetryAfter().Seconds() + 0.999))}
				writeThrottled(w)
				return
			}
			if denial.Reason == auth.ReasonNoPermission {
				s.writeError(w, r, kiln.Errorf(kiln.EPermission, "User does not have permission to use tokens."))
				return
			}
			if denial.Reason == auth.ReasonDisabled {
				// The body stays Databricks' "Invalid access token.", but
				// a client may tell its user the one thing that helps:
				// no token works until an admin enables them. Only the
				// holder of a live token learns it (the index checks
				// revocation and expiry first), and it is the workspace's
				// switch, not a fact about the token.
				w.Header()[TokensDisabledHeader] = []string{"true"}
			}
			writeInvalidToken(w)
			return
		}
		if !inScope(caller, area, r) {
			s.writeError(w, r, outOfScope(area))
			return
		}
		if caller.Method == "pat" && s.index.ExpiresSoon(caller.TokenExpires, s.index.Now()) {
			w.Header()[TokenExpiresHeader] = []string{caller.TokenExpires.UTC().Format(time.RFC3339)}
		}
		next.ServeHTTP(w, r.WithContext(kiln.NewContextWithCaller(r.Context(), caller)))
	})
}

// TokenExpiresHeader carries, on every answer to a request made with a
// token that ends within the workspace's warning window
// (kilnTokenExpiryWarningDays), when it ends, in RFC 3339: scripts and the
// kiln CLI can warn before the token stops working. A rotated token in its
// grace period carries it too.
const TokenExpiresHeader = "X-Kiln-Token-Expires"

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
