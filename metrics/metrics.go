// Package metrics is kiln's Prometheus instrumentation: a private
// registry with the request, authentication, token, run, webhook and
// index metrics, and the handler that exposes them in the Prometheus text
// format (github.com/prometheus/client_golang). The server wires it: it
// observes every request in its root handler, and the API and console
// name the route pattern a request matched (SetRoute), so that labels stay
// bounded whatever paths clients send.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// Unmatched is the route label of a request no route matched (a 404).
const Unmatched = "unmatched"

// Sources are what the scrape-time gauges read.
type Sources struct {
	// Index is the token index: token counts and refresh lag.
	Index *auth.Index
	// Store answers the run counts (one grouped COUNT, cached for
	// StoreCacheFor).
	Store kiln.Store
}

// StoreCacheFor is how long a scrape's store read is reused, so that a
// scrape storm costs the store one query a second.
const StoreCacheFor = time.Second

// Metrics holds kiln's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
	webhooks     *prometheus.CounterVec

	// series caches the request series of each (route, code), so that a
	// request costs no label hashing or allocation once its series exists.
	seriesMu sync.RWMutex
	series   map[seriesKey]*requestSeries
}

type seriesKey struct {
	route string
	code  int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New registers kiln's metrics, the Go runtime's and the process's on a
// registry of their own.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(), series: map[seriesKey]*requestSeries{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_http_requests_total", Help: "HTTP requests served, by matched route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kiln_http_request_duration_seconds", Help: "Time to serve HTTP requests, by matched route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_auth_failures_total", Help: "Requests refused for their credential, by reason (unknown, revoked, expired, malformed, tokens disabled, …).",
		}, []string{"reason"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_webhook_deliveries_total", Help: "Webhook delivery attempts, by event type and result (delivered, retry, failed).",
		}, []string{"event", "result"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.authFailures, m.webhooks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&scrapeCollector{src: src})
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Observe records one served request.
func (m *Metrics) Observe(route string, code int, d time.Duration) {
	if route == "" {
		route = Unmatched
	}
	k := seriesKey{route, code}
	m.seriesMu.RLock()
	rs := m.series[k]
	m.seriesMu.RUnlock()
	if rs == nil {
		// Routes are patterns of the route tables and codes are few, so
		// the cache stays small.
		rs = &requestSeries{count: m.requests.WithLabelValues(route, codeLabel(code)), duration: m.duration.WithLabelValues(route)}
		m.seriesMu.Lock()
		m.series[k] = rs
		m.seriesMu.Unlock()
	}
	rs.count.Inc()
	rs.duration.Observe(d.Seconds())
}

// codes are the labels of the usual status codes, formatted once.
var codes = func() map[int]string {
	out := map[int]string{}
	for c := 100; c < 600; c++ {
		if http.StatusText(c) != "" {
			out[c] = strconv.Itoa(c)
		}
	}
	return out
}()

func codeLabel(code int) string {
	if s, ok := codes[code]; ok {
		return s
	}
	return strconv.Itoa(code)
}

// AuthFailure counts a request refused for its credential.
func (m *Metrics) AuthFailure(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

// WebhookDelivery counts one delivery attempt's result (the webhook
// deliverer's OnResult).
func (m *Metrics) WebhookDelivery(event, result string) {
	m.webhooks.WithLabelValues(event, result).Inc()
}

// RouteSetter is implemented by the response writer the server's root
// handler wraps every request in.
type RouteSetter interface{ SetRoute(pattern string) }

// SetRoute names the route pattern w's request matched, for the request
// metrics: it finds the RouteSetter among w and the writers it wraps
// (Unwrap), and does nothing when there is none (metrics off).
func SetRoute(w http.ResponseWriter, pattern string) {
	for w != nil {
		if s, ok := w.(RouteSetter); ok {
			s.SetRoute(pattern)
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

// Route wraps h so that every request it serves is counted under
// pattern (the route table registers each handler through it).
func Route(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetRoute(w, pattern)
		h.ServeHTTP(w, r)
	})
}

// scrapeCollector computes, at each scrape, the gauges that are state
// rather than events: tokens by state, runs by state, the run queue and
// the index's refresh lag.
type scrapeCollector struct {
	src Sources

	mu      sync.Mutex
	runsAt  time.Time
	runs    map[string]int
	runsErr error
}

var (
	tokensDesc = prometheus.NewDesc("kiln_tokens", "Personal access tokens in the token index, by state (live, expired, revoked).", []string{"state"}, nil)
	runsDesc   = prometheus.NewDesc("kiln_runs", "Job runs in the store, by life-cycle state.", []string{"state"}, nil)
	queueDesc  = prometheus.NewDesc("kiln_run_queue_depth", "Runs waiting to start (QUEUED or PENDING).", nil, nil)
	lagDesc    = prometheus.NewDesc("kiln_index_refresh_lag_seconds",
		"Seconds since the token index last caught up with the store's changes. It stays below a few poll intervals; a value that keeps growing means this replica no longer sees what other processes change (revocations included).", nil, nil)
)

// Describe sends the descriptions of the scrape-time gauges.
func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tokensDesc
	ch <- runsDesc
	ch <- queueDesc
	ch <- lagDesc
}

// Collect reads the index and (at most once per StoreCacheFor) the store.
func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	if ix := c.src.Index; ix != nil {
		n := ix.Counts(now)
		ch <- prometheus.MustNewConstMetric(tokensDesc, prometheus.GaugeValue, float64(n.Live), "live")
		ch <- prometheus.MustNewConstMetric(tokensDesc, prometheus.GaugeValue, float64(n.Expired), "expired")
		ch <- prometheus.MustNewConstMetric(tokensDesc, prometheus.GaugeValue, float64(n.Revoked), "revoked")
		if last := ix.LastRefresh(); !last.IsZero() {
			ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, now.Sub(last).Seconds())
		}
	}
	if c.src.Store == nil {
		return
	}
	runs, err := c.runCounts(now)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(runsDesc, err)
		return
	}
	for state, n := range runs {
		ch <- prometheus.MustNewConstMetric(runsDesc, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(runs[kiln.LifeCycleQueued]+runs[kiln.LifeCyclePending]))
}

func (c *scrapeCollector) runCounts(now time.Time) (map[string]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.runsAt) < StoreCacheFor && (c.runs != nil || c.runsErr != nil) {
		return c.runs, c.runsErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var runs map[string]int
	err := c.src.Store.View(ctx, func(tx kiln.Tx) (err error) { runs, err = tx.CountRunsByState(); return err })
	c.runsAt, c.runs, c.runsErr = now, runs, err
	return runs, err
}
