package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/clientip"
	"github.com/kiln-dev/kiln/metrics"
)

// root is the one handler every request kiln serves goes through: the
// shared middleware (panic recovery, access log, transport headers), then
//
//	GET /healthz, GET /readyz   liveness and readiness (health below)
//	/api/…, /.well-known/…, /oidc/… (but /oidc/v1/authorize, the
//	                            console's consent page),
//	/telemetry-ext              the REST API (api/routes.go)
//	/                           the web console (console/routes.go)
//
// An executor-only node (NoAPI) serves the health probes and a JSON 404.
type root struct {
	mux      *http.ServeMux
	log      *slog.Logger
	orgID    []string // X-Databricks-Org-Id, which clients resolve the workspace from
	clientIP *clientip.Resolver
	store    kiln.Store
	index    *auth.Index      // the IP access rules in force
	metrics  *metrics.Metrics // nil: no metrics
}

// newRoot builds the root handler over the API and console handlers;
// both nil makes the handler of an executor-only node.
func newRoot(p *Parts, apiHandler, consoleHandler http.Handler) http.Handler {
	rt := &root{
		mux: http.NewServeMux(), log: p.Log, store: p.Store, clientIP: p.ClientIP, index: p.Index,
		orgID: []string{strconv.FormatInt(p.Workspace.ID, 10)}, metrics: p.Metrics,
	}
	rt.mux.Handle("/healthz", metrics.Route("/healthz", http.HandlerFunc(rt.healthz)))
	rt.mux.Handle("/readyz", metrics.Route("/readyz", http.HandlerFunc(rt.readyz)))
	if p.Metrics != nil && p.Config.MetricsToken != "" {
		// Without a method in the pattern, as the other root routes: a
		// method pattern would make the root mux's matching of every
		// other path allocate. promhttp answers GET and HEAD.
		rt.mux.Handle("/metrics", metrics.Route("/metrics", requireBearer(p.Config.MetricsToken, p.Metrics.Handler(), p.Log)))
	}
	if apiHandler == nil {
		rt.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			api.WriteError(w, r, rt.log, kiln.Errorf(kiln.ENotFound, "This kiln node executes runs only (--no-api)."))
		})
	} else {
		rt.mux.Handle("/api/", apiHandler)
		rt.mux.Handle("/.well-known/", apiHandler)
		rt.mux.Handle("/oidc/", apiHandler)
		rt.mux.Handle("/oidc/v1/authorize", consoleHandler) // the consent page
		rt.mux.Handle("/telemetry-ext", apiHandler)
		rt.mux.Handle("/", consoleHandler)
	}
	return rt.recoverPanics(rt.commonHeaders(rt.accessLog(rt.ipAccess(rt.mux))))
}

// healthz is liveness: the process serves requests.
func (rt *root) healthz(w http.ResponseWriter, r *http.Request) {
	if !rt.probeMethod(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}`))
}

// readyz is readiness: the store answers within two seconds. A 503 (with
// Retry-After) tells a load balancer to send the replica no traffic
// until it is back.
func (rt *root) readyz(w http.ResponseWriter, r *http.Request) {
	if !rt.probeMethod(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := rt.store.Ping(ctx); err != nil {
		api.WriteError(w, r, rt.log, &kiln.Error{Code: kiln.EUnavailable, Message: "The store is not answering.", Err: err})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ready"}`))
}

// probeMethod admits GET and HEAD on a health probe and answers anything
// else with 405, as the API answers a known path with the wrong method.
func (rt *root) probeMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	api.WriteError(w, r, rt.log, kiln.Errorf(kiln.EMethodNotAllowed, "%s is not allowed on %s.", r.Method, r.URL.Path))
	return false
}

// commonHeaders sets the headers every response carries: the workspace id
// (clients resolve the workspace from it), a request id, and hardening
// headers.
func (rt *root) commonHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The keys are already canonical: assigning them directly skips
		// Header.Set's canonicalisation on the hottest path of all.
		h := w.Header()
		h["X-Databricks-Org-Id"] = rt.orgID
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

// statusWriter records the status for the access log and the metrics,
// and the route pattern the request matched (metrics.SetRoute).
type statusWriter struct {
	http.ResponseWriter
	status int
	route  string
}

// SetRoute records the matched route pattern.
func (w *statusWriter) SetRoute(pattern string) { w.route = pattern }

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
func (rt *root) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		logged := rt.log.Enabled(r.Context(), level)
		if !logged && rt.metrics == nil {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		if rt.metrics != nil {
			rt.metrics.Observe(sw.route, sw.status, time.Since(start))
		}
		if !logged {
			return
		}
		rt.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)), slog.String("remote", rt.clientIP.Addr(r)),
			slog.String("request_id", w.Header().Get("X-Request-Id")))
	})
}

// ipAccess applies the workspace's IP access lists to every request but
// the health probes (a load balancer must see a replica's health from
// anywhere), API and console alike, as Databricks does: while
// enableIpAccessLists is "true", a client address in an enabled block
// list, or outside every enabled allow list when one exists, gets 403.
// The rules are in memory (auth.Index.IPRules), so the check reads
// nothing; with the setting off it is one atomic load.
//
// Requests that may change something carry the client address in their
// context, for the service's refusal of a change that would lock the
// caller out (kiln.ClientAddrFromContext); reads skip that allocation.
func (rt *root) ipAccess(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		if rules := rt.index.IPRules(); rules != nil && !rules.Admits(rt.clientIP.Addr(r)) {
			addr := rt.clientIP.Addr(r)
			api.WriteError(w, r, rt.log, (&kiln.Error{Code: kiln.EPermission,
				Message: "Source IP address: " + addr + " is blocked by Databricks IP ACL for workspace: " + rt.orgID[0]}).WithReason("403"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r = r.WithContext(kiln.NewContextWithClientAddr(r.Context(), rt.clientIP.Addr(r)))
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged 500 with the JSON error shape;
// the panic's text and stack go to the log only.
func (rt *root) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				api.WriteError(w, r, rt.log, kiln.Internal(fmt.Errorf("panic: %v\n%s", v, debug.Stack())))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requireBearer serves h only to requests with "Authorization: Bearer
// <token>", compared in constant time; others get 401.
func requireBearer(token string, h http.Handler, log *slog.Logger) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			api.WriteError(w, r, log, kiln.Errorf(kiln.EUnauthenticated, "The metrics need the metrics token: Authorization: Bearer <token>."))
			return
		}
		h.ServeHTTP(w, r)
	})
}
