package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

// BenchmarkServe measures kiln's handler without the network: the
// middleware chain, routing, and for /Me the token check and rendering.
// Run with -benchmem; compare healthz with me to see what a token costs.
func BenchmarkServe(b *testing.B) {
	e := kilntest.Start(b)
	tok := e.AdminToken(b)
	h := e.Srv.Handler()
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{"healthz", "/healthz", "", 200},
		{"me", "/api/2.0/preview/scim/v2/Me", tok, 200},
		{"bad-token", "/api/2.0/preview/scim/v2/Me", "dapi44444444444444444444444444444444", 403},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("GET", c.path, nil)
				r.RemoteAddr = "192.0.2.1:1234"
				if c.token != "" {
					r.Header.Set("Authorization", "Bearer "+c.token)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != c.want && w.Code != http.StatusTooManyRequests {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkServeMetrics is BenchmarkServe's /Me with the Prometheus
// metrics off and on (a metrics token set), in one run: what counting a
// request by route and status and timing it costs.
func BenchmarkServeMetrics(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []kilntest.Option
	}{
		{"off", nil},
		{"on", []kilntest.Option{kilntest.WithConfig(func(c *server.Config) { c.MetricsToken = "metrics-token-0123456789" })}},
	} {
		e := kilntest.Start(b, c.opts...)
		tok := e.AdminToken(b)
		h := e.Srv.Handler()
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("GET", "/api/2.0/preview/scim/v2/Me", nil)
				r.RemoteAddr = "192.0.2.1:1234"
				r.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
