package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// The OAuth authorization server, at Databricks' workspace paths: the
// discovery document the SDKs read, and the token endpoint. Its errors
// use OAuth's shape (RFC 6749 §5.2), which golang.org/x/oauth2 and the
// SDKs parse, not Databricks' API error shape.

// oauthMetadata answers RFC 8414 discovery.
func (s *Server) oauthMetadata(w http.ResponseWriter, r *http.Request) error {
	base := strings.TrimSuffix(s.publicURL(r), "/") + "/oidc"
	scopes := append([]string{kiln.ScopeAllAPIs}, kiln.APIScopes...)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base,
		"authorization_endpoint":                base + "/v1/authorize",
		"token_endpoint":                        base + "/v1/token",
		"grant_types_supported":                 []string{"client_credentials", "authorization_code", "refresh_token"},
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                      scopes,
	})
	return nil
}

// tokenBodyLimit bounds a token request's form.
const tokenBodyLimit = 16 << 10

// oauthError writes an RFC 6749 error.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="kiln"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// oauthToken is the token endpoint: grant_type=client_credentials, with
// the client id and secret in HTTP Basic (what the SDKs send) or in the
// form.
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, tokenBodyLimit)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body must be a form of at most 16 KiB.")
		return nil
	}
	f := r.PostForm
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = f.Get("client_id"), f.Get("client_secret")
	}
	issuer := strings.TrimSuffix(s.publicURL(r), "/") + "/oidc"
	switch gt := f.Get("grant_type"); gt {
	case "client_credentials":
	case "authorization_code", "refresh_token":
		var ut *service.UserTokens
		var err error
		if gt == "authorization_code" {
			ut, err = s.svc.ExchangeCode(r.Context(), clientID, f.Get("code"), f.Get("code_verifier"), f.Get("redirect_uri"), issuer)
		} else {
			ut, err = s.svc.RefreshTokens(r.Context(), clientID, f.Get("refresh_token"), issuer)
		}
		if kiln.IsCode(err, kiln.EConflict) {
			s.denials.Record(s.clientIP.Addr(r), "oauth "+gt+" refused", "", 0)
			// The SDKs recognise this description as an invalid refresh
			// token and ask the user to log in again.
			msg := kiln.ErrorMessage(err)
			if gt == "refresh_token" {
				msg = "Refresh token is invalid"
			}
			oauthError(w, http.StatusBadRequest, "invalid_grant", msg)
			return nil
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": ut.Value, "token_type": "Bearer", "scope": ut.Scope, "refresh_token": ut.Refresh,
			"expires_in": int64(time.Until(ut.Expires).Round(time.Second) / time.Second),
		})
		return nil
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required.")
		return nil
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+truncate(gt, 64)+" is not supported; kiln issues tokens for client_credentials, authorization_code and refresh_token.")
		return nil
	}
	tok, err := s.svc.ClientCredentials(r.Context(), clientID, secret, f.Get("scope"), issuer, s.clientIP.Addr(r))
	switch {
	case kiln.IsCode(err, kiln.EUnauthenticated):
		s.denials.Record(s.clientIP.Addr(r), "oauth client authentication failed", "", 0)
		oauthError(w, http.StatusUnauthorized, "invalid_client", kiln.ErrorMessage(err))
		return nil
	case kiln.IsCode(err, kiln.EInvalid):
		oauthError(w, http.StatusBadRequest, "invalid_scope", kiln.ErrorMessage(err))
		return nil
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok.Value, "token_type": "Bearer", "scope": tok.Scope,
		"expires_in": int64(time.Until(tok.Expires).Round(time.Second) / time.Second),
	})
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// oauthSecretInfo is Databricks' SecretInfo.
type oauthSecretInfo struct {
	ID         string `json:"id"`
	SecretHash string `json:"secret_hash"`
	Status     string `json:"status"`
	CreateTime string `json:"create_time"`
	UpdateTime string `json:"update_time"`
	ExpireTime string `json:"expire_time,omitempty"`
}

func secretInfoOf(sec *kiln.OAuthSecret) oauthSecretInfo {
	i := oauthSecretInfo{ID: sec.ID, SecretHash: sec.SecretHash, Status: "ACTIVE",
		CreateTime: sec.Created.UTC().Format(time.RFC3339), UpdateTime: sec.Updated.UTC().Format(time.RFC3339)}
	if !sec.Expires.IsZero() {
		i.ExpireTime = sec.Expires.UTC().Format(time.RFC3339)
		if !time.Now().Before(sec.Expires) {
			i.Status = "EXPIRED"
		}
	}
	return i
}

// createOAuthSecret creates a service principal's secret; the value is in
// this answer only.
func (s *Server) createOAuthSecret(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Lifetime string `json:"lifetime"`
	}
	if err := decodeBody(r, &req, false); err != nil {
		return err
	}
	lifetime, err := service.ParseSecretLifetime(req.Lifetime)
	if err != nil {
		return err
	}
	ns, err := s.svc.CreateOAuthSecret(r.Context(), r.PathValue("sp"), lifetime)
	if err != nil {
		return err
	}
	type created struct {
		oauthSecretInfo
		Secret string `json:"secret"`
	}
	writeJSON(w, http.StatusOK, created{oauthSecretInfo: secretInfoOf(ns.Info), Secret: ns.Value})
	return nil
}

func (s *Server) listOAuthSecrets(w http.ResponseWriter, r *http.Request) error {
	secs, err := s.svc.OAuthSecrets(r.Context(), r.PathValue("sp"))
	if err != nil {
		return err
	}
	out := []oauthSecretInfo{}
	for _, sec := range secs {
		out = append(out, secretInfoOf(sec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"secrets": out})
	return nil
}

func (s *Server) deleteOAuthSecret(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteOAuthSecret(r.Context(), r.PathValue("sp"), r.PathValue("secret")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}
