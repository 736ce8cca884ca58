package api

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// hostMetadata answers the SDKs' unauthenticated discovery call. The oidc
// endpoint deliberately does not contain /oidc/accounts/: the Databricks
// CLI would take the host for an account host and refuse PATs. The
// account id is kiln's own (kiln.Workspace.AccountID); with host_type
// workspace the SDKs only record it.
func (s *Server) hostMetadata(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"workspace_id":  s.orgID,
		"account_id":    s.accountID,
		"host_type":     "workspace",
		"cloud":         "AWS",
		"oidc_endpoint": strings.TrimSuffix(s.publicURL(r), "/") + "/oidc",
	})
	return nil
}

// publicURL is the configured base URL or, without one, the address of
// this server that the request's connection reached (the listener's, with
// the interface a wildcard listener answered on). Never the Host header:
// any client chooses it, and a link built from it would send whoever
// follows a run's page, or an SDK's OIDC discovery, to a host the client
// picked. Behind a proxy or a port mapping the reached address is not the
// public one, which is what --base-url is for.
func (s *Server) publicURL(r *http.Request) string {
	if s.baseURL != "" {
		return s.baseURL
	}
	u := url.URL{Scheme: "http", Host: "localhost"} // a handler called without a connection
	if r.TLS != nil {
		u.Scheme = "https"
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		// "127.0.0.1:8080", "[::1]:8080"; url.URL escapes an IPv6
		// zone's % as RFC 6874 requires.
		u.Host = a.String()
	}
	return u.String()
}

// telemetry accepts the Databricks CLI's usage reports and discards them.
func (s *Server) telemetry(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"errors": []string{}, "numProtoSuccess": 0})
	return nil
}
