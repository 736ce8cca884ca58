package api

import (
	"net/http"

	"github.com/kiln-dev/kiln"
)

// currentToken serves GET /api/kiln/v1/token/current: the token the request
// was authenticated with, in the self-service shape of token/list. Clients
// use it to tell their user when the configured token expires (no
// Databricks endpoint says which of the caller's tokens is in use).
func (s *Server) currentToken(w http.ResponseWriter, r *http.Request) error {
	c := kiln.CallerFromContext(r.Context())
	if c == nil || c.TokenID == "" {
		return kiln.Errorf(kiln.ENotFound, "This request was not authenticated with a personal access token.")
	}
	toks, err := s.svc.ListOwnTokens(r.Context())
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.ID == c.TokenID {
			writeJSON(w, http.StatusOK, map[string]any{"token_info": publicInfo(t)})
			return nil
		}
	}
	// Revoked or expired between authentication and the lookup.
	return kiln.Errorf(kiln.EInvalidToken, "Invalid access token.")
}
