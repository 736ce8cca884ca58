package api

import (
	"net/http"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// rotateTokenRequest is the body of POST /api/kiln/v1/tokens/{id}/rotate.
type rotateTokenRequest struct {
	// GraceSeconds is how long the old token keeps working; omitted, the
	// service's default.
	GraceSeconds *flexInt `json:"grace_seconds"`
}

// rotateToken serves POST /api/kiln/v1/tokens/{id}/rotate: a new token
// in place of the caller's own (any, for admins), answered like
// token/create; the old one works until the grace period ends.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request) error {
	var req rotateTokenRequest
	if err := decodeBody(r, &req, false); err != nil {
		return err
	}
	var grace *time.Duration
	if req.GraceSeconds != nil {
		secs := min(int64(*req.GraceSeconds), int64(100*365*24*3600)) // refused by the service beyond its cap
		d := time.Duration(secs) * time.Second
		grace = &d
	}
	nt, err := s.svc.RotateToken(r.Context(), r.PathValue("id"), grace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rotateTokenResponse{
		createTokenResponse: createTokenResponse{TokenValue: nt.Value, TokenInfo: publicInfo(nt.Info)},
		RotatedTokenInfo:    publicInfo(nt.Replaced),
	})
	return nil
}

// rotateTokenResponse is token/create's answer plus the old token as it
// now is: rotated_to_token_id set, expiry_time the end of its grace.
type rotateTokenResponse struct {
	createTokenResponse
	RotatedTokenInfo publicTokenInfo `json:"rotated_token_info"`
}

// lookupRequest is the body of POST /api/kiln/v1/token-management/lookup.
type lookupRequest struct {
	TokenValue string `json:"token_value"`
	Revoke     bool   `json:"revoke"`
}

// tokenAddressJSON is one source address of a token.
type tokenAddressJSON struct {
	Address   string `json:"address"`
	FirstSeen int64  `json:"first_seen"`
	LastSeen  int64  `json:"last_seen"`
}

// lookupResponse says what a token value is: the token management view,
// its owner's name, where it was used from and whether it still works.
type lookupResponse struct {
	TokenInfo       tokenInfo          `json:"token_info"`
	Owner           string             `json:"owner"`
	State           string             `json:"state"`
	Live            bool               `json:"live"`
	Revoked         bool               `json:"revoked"`
	RevokedNow      bool               `json:"revoked_now"`
	SourceAddresses []tokenAddressJSON `json:"source_addresses"`
}

// lookupToken serves POST /api/kiln/v1/token-management/lookup (admins):
// the token a leaked value belongs to, revoked in the same call with
// "revoke": true.
func (s *Server) lookupToken(w http.ResponseWriter, r *http.Request) error {
	var req lookupRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	l, err := s.svc.LookupToken(r.Context(), req.TokenValue, req.Revoke)
	if err != nil {
		return err
	}
	out := lookupResponse{
		TokenInfo: s.adminInfo(l.Token), Owner: l.Token.OwnerName, State: l.State,
		Live: l.State == service.TokenLive, Revoked: l.State == service.TokenRevoked, RevokedNow: l.RevokedNow,
		SourceAddresses: addressesJSON(l.Addresses),
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func addressesJSON(as []kiln.TokenAddress) []tokenAddressJSON {
	out := make([]tokenAddressJSON, 0, len(as))
	for _, a := range as {
		out = append(out, tokenAddressJSON{a.Addr, kiln.MillisOf(a.FirstSeen), kiln.MillisOf(a.LastSeen)})
	}
	return out
}

// tokenAddresses serves GET /api/kiln/v1/tokens/{id}/addresses: where one
// of the caller's tokens (any, for admins) was used from.
func (s *Server) tokenAddresses(w http.ResponseWriter, r *http.Request) error {
	as, err := s.svc.TokenAddresses(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"source_addresses": addressesJSON(as)})
	return nil
}

// tokenEndJSON is one token a policy change would end.
type tokenEndJSON struct {
	TokenID     string `json:"token_id"`
	Owner       string `json:"owner"`
	Comment     string `json:"comment"`
	Reason      string `json:"reason"`
	EffectiveAt int64  `json:"effective_at"`
}

func tokenEndsJSON(ends []service.TokenEnd) []tokenEndJSON {
	out := make([]tokenEndJSON, 0, len(ends))
	for _, e := range ends {
		out = append(out, tokenEndJSON{e.Token.ID, e.Token.OwnerName, e.Token.Comment, e.Reason, kiln.MillisOf(e.At)})
	}
	return out
}

// previewPolicy serves POST /api/kiln/v1/policy/preview (admins): the
// body is proposed workspace-conf values, the answer the tokens setting
// them would end, when (epoch milliseconds; now for at once) and why.
func (s *Server) previewPolicy(w http.ResponseWriter, r *http.Request) error {
	kv, err := decodeConfBody(r)
	if err != nil {
		return err
	}
	ends, err := s.svc.PreviewPolicy(r.Context(), kv)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": tokenEndsJSON(ends)})
	return nil
}
