package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// publicTokenInfo is the self-service view of a token.
type publicTokenInfo struct {
	TokenID      string `json:"token_id"`
	CreationTime int64  `json:"creation_time"`
	ExpiryTime   int64  `json:"expiry_time"`
	Comment      string `json:"comment"`
	// Scopes are the token's API scopes; absent for an unscoped token.
	Scopes []string `json:"scopes,omitempty"`
	rotation
}

// rotation says, in kiln's extra fields, that a token was rotated: it
// works until expiry_time, beside its successor.
type rotation struct {
	RotatedTo   string `json:"rotated_to_token_id,omitempty"`
	RotatedTime int64  `json:"rotated_time,omitempty"`
}

func rotationOf(t *kiln.Token) rotation {
	return rotation{RotatedTo: t.RotatedTo, RotatedTime: kiln.MillisOf(t.RotatedAt)}
}

// tokenInfo is the admin (token management) view of a token.
type tokenInfo struct {
	TokenID           string   `json:"token_id"`
	CreationTime      int64    `json:"creation_time"`
	ExpiryTime        int64    `json:"expiry_time"`
	Comment           string   `json:"comment"`
	CreatedByID       int64    `json:"created_by_id"`
	CreatedByUsername string   `json:"created_by_username"`
	OwnerID           int64    `json:"owner_id"`
	WorkspaceID       int64    `json:"workspace_id"`
	LastUsedDay       int64    `json:"last_used_day,omitempty"`
	Scopes            []string `json:"scopes,omitempty"`
	rotation
}

// expiryMillis renders "never" as -1, as Databricks does.
func expiryMillis(t *kiln.Token) int64 {
	if t.Expires.IsZero() {
		return -1
	}
	return kiln.MillisOf(t.Expires)
}

func publicInfo(t *kiln.Token) publicTokenInfo {
	return publicTokenInfo{TokenID: t.ID, CreationTime: kiln.MillisOf(t.Created), ExpiryTime: expiryMillis(t), Comment: t.Comment, Scopes: t.Scopes, rotation: rotationOf(t)}
}

func (s *Server) adminInfo(t *kiln.Token) tokenInfo {
	return tokenInfo{
		TokenID: t.ID, CreationTime: kiln.MillisOf(t.Created), ExpiryTime: expiryMillis(t), Comment: t.Comment,
		CreatedByID: t.CreatedByID, CreatedByUsername: t.CreatedByName, OwnerID: t.OwnerID, WorkspaceID: s.wsID,
		LastUsedDay: kiln.MillisOf(t.LastUsedDay), Scopes: t.Scopes, rotation: rotationOf(t),
	}
}

// createTokenRequest is the body of token/create and of on-behalf-of
// token creation.
type createTokenRequest struct {
	ApplicationID   string   `json:"application_id"`
	LifetimeSeconds *flexInt `json:"lifetime_seconds"`
	Comment         string   `json:"comment"`
	Scopes          []string `json:"scopes"`
}

func (c createTokenRequest) params() (service.CreateTokenParams, error) {
	p := service.CreateTokenParams{Comment: c.Comment}
	p.Scopes = c.Scopes
	if c.LifetimeSeconds != nil {
		secs := int64(*c.LifetimeSeconds)
		if secs > int64(100*365*24*3600) {
			secs = int64(100*365*24*3600) + 1 // refused by the service with a clear message
		}
		d := time.Duration(secs) * time.Second
		p.Lifetime = &d
	}
	return p, nil
}

type createTokenResponse struct {
	TokenValue string `json:"token_value"`
	TokenInfo  any    `json:"token_info"`
}

// decodeCreateToken reads a token creation body; only on-behalf-of
// creation requires one (it must name the application).
func decodeCreateToken(r *http.Request, required bool) (createTokenRequest, service.CreateTokenParams, error) {
	var req createTokenRequest
	if err := decodeBody(r, &req, required); err != nil {
		return req, service.CreateTokenParams{}, err
	}
	p, err := req.params()
	return req, p, err
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	_, p, err := decodeCreateToken(r, false)
	if err != nil {
		return err
	}
	nt, err := s.svc.CreateToken(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, createTokenResponse{TokenValue: nt.Value, TokenInfo: publicInfo(nt.Info)})
	return nil
}

func (s *Server) createOBOToken(w http.ResponseWriter, r *http.Request) error {
	req, p, err := decodeCreateToken(r, true)
	if err != nil {
		return err
	}
	nt, err := s.svc.CreateOBOToken(r.Context(), req.ApplicationID, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, createTokenResponse{TokenValue: nt.Value, TokenInfo: s.adminInfo(nt.Info)})
	return nil
}

func (s *Server) listOwnTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := s.svc.ListOwnTokens(r.Context())
	if err != nil {
		return err
	}
	infos := make([]publicTokenInfo, 0, len(toks))
	for _, t := range toks {
		infos = append(infos, publicInfo(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_infos": infos})
	return nil
}

func (s *Server) revokeOwnToken(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		TokenID string `json:"token_id"`
	}
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if req.TokenID == "" {
		return kiln.Errorf(kiln.EInvalid, "token_id is required.")
	}
	if err := s.svc.RevokeOwnToken(r.Context(), req.TokenID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

// updateTokenRequest is the body of the token PATCH endpoints.
type updateTokenRequest struct {
	Token *struct {
		Comment string `json:"comment"`
	} `json:"token"`
	UpdateMask string `json:"update_mask"`
}

func (u updateTokenRequest) fields() ([]string, string, error) {
	if u.Token == nil {
		return nil, "", kiln.Errorf(kiln.EInvalid, "token is required: send {\"token\": {\"comment\": \"...\"}, \"update_mask\": \"comment\"}.")
	}
	var fields []string
	for _, f := range strings.Split(u.UpdateMask, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	return fields, u.Token.Comment, nil
}

func (s *Server) updateOwnToken(w http.ResponseWriter, r *http.Request) error {
	var req updateTokenRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	fields, comment, err := req.fields()
	if err != nil {
		return err
	}
	if _, err := s.svc.UpdateOwnToken(r.Context(), r.PathValue("id"), fields, comment); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r)
	if err != nil {
		return err
	}
	var f service.TokenListFilter
	if f.CreatedByID, err = p.int("created_by_id", 0); err != nil {
		return err
	}
	if f.CreatedByName, err = p.get("created_by_username"); err != nil {
		return err
	}
	toks, err := s.svc.ListTokens(r.Context(), f)
	if err != nil {
		return err
	}
	infos := make([]tokenInfo, 0, len(toks))
	for _, t := range toks {
		infos = append(infos, s.adminInfo(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_infos": infos})
	return nil
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request) error {
	t, err := s.svc.GetToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_info": s.adminInfo(t)})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RevokeToken(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) updateToken(w http.ResponseWriter, r *http.Request) error {
	var req updateTokenRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	fields, comment, err := req.fields()
	if err != nil {
		return err
	}
	t, err := s.svc.UpdateToken(r.Context(), r.PathValue("id"), fields, comment)
	if err != nil {
		return err
	}
	// Unlike get, update answers with the bare TokenInfo.
	writeJSON(w, http.StatusOK, s.adminInfo(t))
	return nil
}
