package server_test

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kiln-dev/kiln/kilntest"
	"github.com/kiln-dev/kiln/server"
)

const metricsToken = "metrics-token-0123456789"

// scrape GETs url with the bearer token (none for "") and parses the
// answer; it fails the test unless the status is 200.
func scrape(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the metrics: %v", err)
	}
	return fams
}

// value is the value of the series of fam whose labels include want; -1
// when there is none.
func value(fams map[string]*dto.MetricFamily, fam string, want map[string]string) float64 {
	f := fams[fam]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	e := kilntest.Start(t, kilntest.WithConfig(func(c *server.Config) {
		c.MetricsToken = metricsToken
		c.MetricsAddr = "127.0.0.1:0"
	}))
	admin := e.AdminToken(t)
	e.Token(t, kilntest.AdminEmail, 0)
	revoked := e.NewToken(t, kilntest.AdminEmail, 0)
	e.Do(t, "POST", "/api/2.0/token/delete", admin, map[string]string{"token_id": revoked.Info.ID})
	for range 3 {
		e.Do(t, "GET", "/api/2.0/token/list", admin, nil)
	}
	e.Do(t, "GET", "/api/2.0/token/list", "dapi00000000000000000000000000000000", nil)
	e.Do(t, "GET", "/api/2.0/no/such/api", admin, nil)
	e.Do(t, "GET", "/healthz", "", nil)

	fams := scrape(t, e.URL+"/metrics", metricsToken)
	for _, c := range []struct {
		name   string
		fam    string
		labels map[string]string
		min    float64
		max    float64
	}{
		{"valid token/list", "kiln_http_requests_total", map[string]string{"route": "GET /api/2.0/token/list", "code": "200"}, 3, 3},
		{"bad token on token/list", "kiln_http_requests_total", map[string]string{"route": "GET /api/2.0/token/list", "code": "403"}, 1, 1},
		{"unknown API path", "kiln_http_requests_total", map[string]string{"route": "/", "code": "404"}, 1, 1},
		{"health", "kiln_http_requests_total", map[string]string{"route": "/healthz", "code": "200"}, 1, 1},
		{"duration samples", "kiln_http_request_duration_seconds", map[string]string{"route": "GET /api/2.0/token/list"}, 4, 4},
		{"auth failure", "kiln_auth_failures_total", map[string]string{"reason": "unknown"}, 1, 1},
		{"live tokens", "kiln_tokens", map[string]string{"state": "live"}, 2, 2},
		{"revoked tokens", "kiln_tokens", map[string]string{"state": "revoked"}, 1, 1},
		{"run queue", "kiln_run_queue_depth", nil, 0, 0},
		{"index lag", "kiln_index_refresh_lag_seconds", nil, 0, 5},
		{"go runtime", "go_goroutines", nil, 1, 1e6},
	} {
		if v := value(fams, c.fam, c.labels); v < c.min || v > c.max {
			t.Errorf("%s: %s%v = %v, want %v to %v", c.name, c.fam, c.labels, v, c.min, c.max)
		}
	}
	for name := range fams {
		if strings.Contains(name, "dapi") {
			t.Errorf("a metric name carries a token: %s", name)
		}
	}
	if f := fams["kiln_http_requests_total"]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "route" && strings.Contains(l.GetValue(), "no/such") {
					t.Errorf("a raw path became a route label: %s", l.GetValue())
				}
			}
		}
	}

	// The public listener wants the token; the metrics listener does not.
	for _, c := range []struct {
		name, token string
		want        int
	}{{"no token", "", 401}, {"wrong token", "metrics-token-wrong-wrong", 401}, {"a PAT", admin, 401}, {"the token", metricsToken, 200}} {
		h := http.Header{}
		if c.token != "" {
			h.Set("Authorization", "Bearer "+c.token)
		}
		if r := e.DoHeaders(t, "GET", "/metrics", nil, h); r.Status != c.want {
			t.Errorf("public /metrics with %s: %d, want %d", c.name, r.Status, c.want)
		}
	}
	if u := e.Srv.MetricsURL(); u == "" {
		t.Fatal("no metrics listener")
	} else if v := value(scrape(t, u, ""), "kiln_tokens", map[string]string{"state": "live"}); v != 2 {
		t.Errorf("metrics listener: live tokens %v, want 2", v)
	}
}

func TestMetricsOff(t *testing.T) {
	e := kilntest.Start(t)
	if r := e.Do(t, "GET", "/metrics", "", nil); r.Status != 404 {
		t.Errorf("/metrics with metrics off: %d, want 404", r.Status)
	}
	if e.Srv.Metrics != nil || e.Srv.MetricsURL() != "" {
		t.Error("metrics are on without --metrics-addr or a metrics token")
	}
}

func TestMetricsConfigRefused(t *testing.T) {
	for _, c := range []struct {
		cfg  server.Config
		want string
	}{
		{server.Config{MetricsAddr: "nope"}, "--metrics-addr"},
		{server.Config{MetricsToken: "short"}, "at least 16"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want it to name %q", c.cfg, err, c.want)
		}
	}
}
