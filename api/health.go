package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

// healthz is liveness: the process serves requests.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz is readiness: the store answers within two seconds.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return &kiln.Error{Code: kiln.EUnavailable, Message: "The store is not answering.", Err: err}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// hostMetadata answers the SDKs' unauthenticated discovery call. The oidc
// endpoint deliberately does not contain /oidc/accounts/: the Databricks
// CLI would take the host for an account host and refuse PATs.
func (s *Server) hostMetadata(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"workspace_id":  s.orgID,
		"host_type":     "workspace",
		"cloud":         "AWS",
		"oidc_endpoint": strings.TrimSuffix(s.publicURL(r), "/") + "/oidc",
	})
	return nil
}

// publicURL is the configured base URL, or one derived from the request.
func (s *Server) publicURL(r *http.Request) string {
	if s.baseURL != "" {
		return s.baseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// telemetry accepts the Databricks CLI's usage reports and discards them.
func (s *Server) telemetry(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"errors": []string{}, "numProtoSuccess": 0})
	return nil
}
