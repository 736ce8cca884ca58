package api

import (
	"net/http"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

type createScopeRequest struct {
	Scope                  string `json:"scope"`
	InitialManagePrincipal string `json:"initial_manage_principal"`
	ScopeBackendType       string `json:"scope_backend_type"`
}

func (s *Server) createSecretScope(w http.ResponseWriter, r *http.Request) error {
	var req createScopeRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if err := s.svc.CreateSecretScope(r.Context(), req.Scope, req.InitialManagePrincipal, req.ScopeBackendType); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

type scopeInfo struct {
	Name        string `json:"name"`
	BackendType string `json:"backend_type"`
}

// Empty lists are left out, as Databricks does.
type listScopesResponse struct {
	Scopes []scopeInfo `json:"scopes,omitempty"`
}

func (s *Server) listSecretScopes(w http.ResponseWriter, r *http.Request) error {
	scs, err := s.svc.ListSecretScopes(r.Context())
	if err != nil {
		return err
	}
	var resp listScopesResponse
	for _, sc := range scs {
		resp.Scopes = append(resp.Scopes, scopeInfo{Name: sc.Name, BackendType: sc.BackendType})
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type scopeRequest struct {
	Scope string `json:"scope"`
	Key   string `json:"key"`
}

func (s *Server) deleteSecretScope(w http.ResponseWriter, r *http.Request) error {
	var req scopeRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if err := s.svc.DeleteSecretScope(r.Context(), req.Scope); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

type putSecretRequest struct {
	Scope       string  `json:"scope"`
	Key         string  `json:"key"`
	StringValue *string `json:"string_value"`
	BytesValue  *string `json:"bytes_value"`
}

func (s *Server) putSecret(w http.ResponseWriter, r *http.Request) error {
	var req putSecretRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	p := service.PutSecretParams{Scope: req.Scope, Key: req.Key, StringValue: req.StringValue}
	if req.BytesValue != nil {
		b, err := decodeBase64("bytes_value", *req.BytesValue)
		if err != nil {
			return err
		}
		p.BytesValue = b
		if p.BytesValue == nil {
			p.BytesValue = []byte{}
		}
	}
	if err := s.svc.PutSecret(r.Context(), p); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

type secretInfo struct {
	Key                  string `json:"key"`
	LastUpdatedTimestamp int64  `json:"last_updated_timestamp"`
}

type listSecretsResponse struct {
	Secrets []secretInfo `json:"secrets,omitempty"`
}

// queryValues reads the named single-valued parameters of a GET (from the
// query string, or a JSON body as some clients send), "" when absent.
func queryValues(r *http.Request, keys ...string) ([]string, error) {
	q, err := readParams(r)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		if out[i], err = q.get(k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	v, err := queryValues(r, "scope")
	if err != nil {
		return err
	}
	list, err := s.svc.ListSecrets(r.Context(), v[0])
	if err != nil {
		return err
	}
	var resp listSecretsResponse
	for _, sec := range list {
		resp.Secrets = append(resp.Secrets, secretInfo{Key: sec.Key, LastUpdatedTimestamp: kiln.MillisOf(sec.Updated)})
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	var req scopeRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if err := s.svc.DeleteSecret(r.Context(), req.Scope, req.Key); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

// getSecret refuses every caller, admins included.
func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) error {
	return kiln.Errorf(kiln.EPermission, "Secret values are not readable over the API: tasks read them with dbutils.secrets.get.")
}

// aclItem is Databricks' AclItem.
type aclItem struct {
	Principal  string `json:"principal"`
	Permission string `json:"permission"`
}

type aclRequest struct {
	Scope      string `json:"scope"`
	Principal  string `json:"principal"`
	Permission string `json:"permission"`
}

func (s *Server) putSecretACL(w http.ResponseWriter, r *http.Request) error {
	var req aclRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if err := s.svc.PutSecretACL(r.Context(), req.Scope, req.Principal, req.Permission); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) deleteSecretACL(w http.ResponseWriter, r *http.Request) error {
	var req aclRequest
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if err := s.svc.DeleteSecretACL(r.Context(), req.Scope, req.Principal); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) getSecretACL(w http.ResponseWriter, r *http.Request) error {
	v, err := queryValues(r, "scope", "principal")
	if err != nil {
		return err
	}
	e, err := s.svc.GetSecretACL(r.Context(), v[0], v[1])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, aclItem{Principal: e.Principal, Permission: e.Permission})
	return nil
}

// listACLsResponse leaves an empty list out, as the other lists do.
type listACLsResponse struct {
	Items []aclItem `json:"items,omitempty"`
}

func (s *Server) listSecretACLs(w http.ResponseWriter, r *http.Request) error {
	v, err := queryValues(r, "scope")
	if err != nil {
		return err
	}
	acl, err := s.svc.ListSecretACLs(r.Context(), v[0])
	if err != nil {
		return err
	}
	var resp listACLsResponse
	for _, e := range acl {
		resp.Items = append(resp.Items, aclItem{Principal: e.Principal, Permission: e.Permission})
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
