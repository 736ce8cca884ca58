// Package api serves the Databricks-compatible REST API: tokens, token
// management, token permissions, workspace settings, SCIM identities, host
// metadata, health probes, and kiln's own audit endpoint. It decodes
// requests leniently where real clients are lenient, authenticates them
// against the in-memory token index, calls the service, and writes every
// error through one table (errors.go).
package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/clientip"
	"github.com/kiln-dev/kiln/service"
)

// Config wires a Server.
type Config struct {
	Service  *service.Service
	Index    *auth.Index
	Denials  *service.Denials
	Throttle *auth.Throttle
	Store    kiln.Store // for /readyz
	Log      *slog.Logger
	// WorkspaceID is reported in X-Databricks-Org-Id and host metadata.
	WorkspaceID int64
	// BaseURL is the public URL of the server, e.g. https://kiln.example.com.
	// Empty, links name the server's own address that each request's
	// connection reached, never the request's Host header.
	BaseURL string
	// ClientIP finds client addresses (X-Forwarded-For from trusted
	// proxies); nil uses the TCP peer.
	ClientIP *clientip.Resolver
	// Console, when set, serves every path the API does not (the web
	// console); otherwise unknown paths are JSON 404s.
	Console http.Handler
}

// Server is the REST API handler.
type Server struct {
	svc      *service.Service
	index    *auth.Index
	denials  *service.Denials
	throttle *auth.Throttle
	store    kiln.Store
	log      *slog.Logger
	orgID    string
	wsID     int64
	baseURL  string
	mux      *http.ServeMux
	console  http.Handler
	handler  http.Handler
	meBodies renderedPrincipals
	clientIP *clientip.Resolver
}

// New returns the API server.
func New(c Config) *Server {
	s := &Server{
		svc: c.Service, index: c.Index, denials: c.Denials, throttle: c.Throttle, store: c.Store,
		log: c.Log, orgID: strconv.FormatInt(c.WorkspaceID, 10), wsID: c.WorkspaceID, baseURL: c.BaseURL,
		mux: http.NewServeMux(), console: c.Console, clientIP: c.ClientIP,
	}
	s.routes()
	s.handler = s.recoverPanics(s.commonHeaders(s.accessLog(http.HandlerFunc(s.serve))))
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// handlerFunc is an API handler that returns its error instead of
// writing it, so that every error goes through writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// public registers a handler that needs no credential.
func (s *Server) public(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, s.adapt(h))
}

// authed registers a handler that needs a valid token.
func (s *Server) authed(pattern string, h handlerFunc) {
	s.mux.Handle(pattern, s.authenticate(s.adapt(h)))
}

// authedLimit is authed with its own request body limit instead of
// maxBodyBytes, for the few routes that take uploads (workspace import,
// DBFS put and add-block).
func (s *Server) authedLimit(pattern string, limit int64, h handlerFunc) {
	s.mux.Handle(pattern, s.authenticate(s.adaptLimit(h, limit)))
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

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// notFound answers requests no route matches: 405 when the path exists
// for another method, the console when it is mounted and the path is not
// an API path, and a JSON 404 otherwise.
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
	if s.console != nil && !isAPIPath(r.URL.Path) {
		s.console.ServeHTTP(w, r)
		return nil
	}
	return kiln.Errorf(kiln.ENotFound, "No API found for '%s %s'.", r.Method, r.URL.Path)
}

func isAPIPath(p string) bool {
	return len(p) >= 5 && p[:5] == "/api/"
}

type requestIDKey struct{}

// commonHeaders sets the headers every response carries: the workspace id
// (clients resolve the workspace from it), a request id, and hardening
// headers.
func (s *Server) commonHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The keys are already canonical: assigning them directly skips
		// Header.Set's canonicalisation on the hottest path of all.
		h := w.Header()
		h["X-Databricks-Org-Id"] = []string{s.orgID}
		h["X-Request-Id"] = []string{newRequestID()}
		h["X-Content-Type-Options"] = nosniff
		h["Cache-Control"] = noStore
		next.ServeHTTP(w, r)
	})
}

// Shared header values; net/http only reads them.
var (
	nosniff = []string{"nosniff"}
	noStore = []string{"no-store"}
)

// requestIDPrefix makes request ids unique across processes and restarts;
// the counter after it makes them unique within one. Request ids identify
// log lines, they are not secrets, so they need not be unpredictable: a
// crypto/rand read per request would cost a system call on older kernels.
var (
	requestIDPrefix = func() string {
		var b [8]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}()
	requestCounter atomic.Uint64
)

func newRequestID() string {
	var b [16]byte
	n := requestCounter.Add(1)
	for i := 15; i >= 0; i-- {
		b[i] = "0123456789abcdef"[n&0xf]
		n >>= 4
	}
	return requestIDPrefix + string(b[:])
}

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status written.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 before the first body bytes.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs one line per request at info level (health probes at
// debug). It logs the path, never the query string or any header: no
// credential can reach the log.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		if !s.log.Enabled(r.Context(), level) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)), slog.String("remote", s.clientIP.Addr(r)),
			slog.String("request_id", w.Header().Get("X-Request-Id")))
	})
}

// recoverPanics turns a panic into a logged 500 with the JSON error shape.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, kiln.Internal(fmt.Errorf("panic: %v\n%s", v, debug.Stack())))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// TokensDisabledHeader is set to "true" on the refusal of an otherwise
// valid token while personal access tokens are disabled workspace-wide.
const TokensDisabledHeader = "X-Kiln-Tokens-Disabled"

// authenticate admits requests carrying a valid token. No credential is a
// 401; a bad, revoked or expired token, or any token while tokens are
// disabled, is a 403 "Invalid access token." (the reason goes to the audit
// log); repeated failures from one address become transient 429s.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := kiln.CallerFromContext(r.Context()); c != nil {
			next.ServeHTTP(w, r) // already authenticated (console session)
			return
		}
		cred, err := auth.ParseAuthorization(r.Header.Get("Authorization"))
		if err == auth.ErrNoCredential {
			s.writeError(w, r, kiln.Errorf(kiln.EUnauthenticated, "Credential was not sent or was of an unsupported type for this API."))
			return
		}
		var (
			caller *kiln.Caller
			denial auth.Denial
		)
		if err != nil {
			denial = auth.Denial{Reason: auth.ReasonMalformed}
		} else {
			caller, denial = s.index.Check(cred.Token)
			if caller != nil && cred.User != "" && cred.User != "token" && !equalFold(cred.User, caller.Principal.UserName) {
				caller, denial = nil, auth.Denial{Reason: "basic user does not own the token", TokenID: caller.TokenID, OwnerID: caller.Principal.ID}
			}
		}
		if caller == nil {
			addr := s.clientIP.Addr(r)
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
		next.ServeHTTP(w, r.WithContext(kiln.NewContextWithCaller(r.Context(), caller)))
	})
}

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

// WithCaller returns a copy of r authenticated as c: the console uses it to
// call API handlers for a signed-in user.
func WithCaller(r *http.Request, c *kiln.Caller) *http.Request {
	return r.WithContext(kiln.NewContextWithCaller(r.Context(), c))
}
