package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// scimPrefix is where workspace SCIM lives.
const scimPrefix = "/api/2.0/preview/scim/v2/"

// ComplexValue is a SCIM multi-valued attribute item (groups, emails,
// members, entitlements).
type ComplexValue struct {
	Display string `json:"display,omitempty"`
	Primary bool   `json:"primary,omitempty"`
	Ref     string `json:"$ref,omitempty"`
	Type    string `json:"type,omitempty"`
	Value   string `json:"value,omitempty"`
}

// Name is a SCIM user's name.
type Name struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// Principal is a SCIM user or service principal. For a service principal
// ApplicationID is set and UserName is empty.
type Principal struct {
	ID            string         `json:"id,omitempty"`
	Schemas       []string       `json:"schemas,omitempty"`
	UserName      string         `json:"userName,omitempty"`
	ApplicationID string         `json:"applicationId,omitempty"`
	DisplayName   string         `json:"displayName,omitempty"`
	Name          *Name          `json:"name,omitempty"`
	Active        *bool          `json:"active,omitempty"`
	ExternalID    string         `json:"externalId,omitempty"`
	Emails        []ComplexValue `json:"emails,omitempty"`
	Groups        []ComplexValue `json:"groups,omitempty"`
	Entitlements  []ComplexValue `json:"entitlements,omitempty"`
}

// IsAdmin reports whether the principal is a direct member of the admins
// group.
func (p *Principal) IsAdmin() bool {
	for _, g := range p.Groups {
		if g.Display == "admins" {
			return true
		}
	}
	return false
}

// IsActive reports the active flag; absent means active.
func (p *Principal) IsActive() bool { return p.Active == nil || *p.Active }

// Login is the principal's sign-in name: the user name, or the
// application id of a service principal.
func (p *Principal) Login() string {
	if p.UserName != "" {
		return p.UserName
	}
	return p.ApplicationID
}

// CurrentUser is the answer of /Me with the workspace id the server reports
// in X-Databricks-Org-Id.
type CurrentUser struct {
	Principal
	WorkspaceID string `json:"-"`
}

// Me returns the caller (GET /api/2.0/preview/scim/v2/Me).
func (c *Client) Me(ctx context.Context) (*CurrentUser, error) {
	var me CurrentUser
	h, err := c.Do(ctx, http.MethodGet, scimPrefix+"Me", nil, nil, &me.Principal)
	if err != nil {
		return nil, err
	}
	me.WorkspaceID = h.Get("X-Databricks-Org-Id")
	return &me, nil
}

// TokenInfo describes a token. The self-service endpoints fill the first
// four fields; token management fills all of them. Times are epoch
// milliseconds; ExpiryTime -1 means the token never expires.
type TokenInfo struct {
	TokenID           string `json:"token_id"`
	CreationTime      int64  `json:"creation_time"`
	ExpiryTime        int64  `json:"expiry_time"`
	Comment           string `json:"comment"`
	CreatedByID       int64  `json:"created_by_id,omitempty"`
	CreatedByUsername string `json:"created_by_username,omitempty"`
	OwnerID           int64  `json:"owner_id,omitempty"`
	WorkspaceID       int64  `json:"workspace_id,omitempty"`
	LastUsedDay       int64  `json:"last_used_day,omitempty"`
	// RotatedToTokenID names the successor of a rotated token, which
	// works until ExpiryTime (kiln only).
	RotatedToTokenID string `json:"rotated_to_token_id,omitempty"`
	// Scopes are the token's API scopes; empty when unscoped.
	Scopes []string `json:"scopes,omitempty"`
}

// Expires returns the expiry time, and false for a token that never
// expires.
func (t *TokenInfo) Expires() (time.Time, bool) {
	if t.ExpiryTime <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(t.ExpiryTime), true
}

// Created returns the creation time.
func (t *TokenInfo) Created() time.Time { return time.UnixMilli(t.CreationTime) }

// CreateTokenRequest is the body of token creation. Zero fields are
// omitted: the server then applies its defaults.
type CreateTokenRequest struct {
	LifetimeSeconds int64  `json:"lifetime_seconds,omitempty"`
	Comment         string `json:"comment,omitempty"`
	// Scopes restrict the token to API areas; empty is the owner's full
	// access.
	Scopes []string `json:"scopes,omitempty"`
}

// CreateTokenResponse holds the new token's value, shown only this once,
// and its description.
type CreateTokenResponse struct {
	TokenValue string    `json:"token_value"`
	TokenInfo  TokenInfo `json:"token_info"`
}

// CreateToken creates a token for the caller (POST /api/2.0/token/create).
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest) (*CreateTokenResponse, error) {
	var out CreateTokenResponse
	if _, err := c.Do(ctx, http.MethodPost, "/api/2.0/token/create", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTokens lists the caller's valid tokens (GET /api/2.0/token/list).
func (c *Client) ListTokens(ctx context.Context) ([]TokenInfo, error) {
	var out struct {
		TokenInfos []TokenInfo `json:"token_infos"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/api/2.0/token/list", nil, nil, &out); err != nil {
		return nil, err
	}
	return nonNil(out.TokenInfos), nil
}

// DeleteToken revokes one of the caller's tokens (POST /api/2.0/token/delete).
func (c *Client) DeleteToken(ctx context.Context, tokenID string) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/2.0/token/delete", nil, map[string]string{"token_id": tokenID}, nil)
	return err
}

// CurrentToken describes the token the client authenticates with (GET
// /api/kiln/v1/token/current, kiln only). A server without the endpoint
// answers an [*APIError] for which IsUnknownEndpoint is true.
func (c *Client) CurrentToken(ctx context.Context) (*TokenInfo, error) {
	var out struct {
		TokenInfo *TokenInfo `json:"token_info"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/api/kiln/v1/token/current", nil, nil, &out); err != nil {
		return nil, err
	}
	if out.TokenInfo == nil {
		return nil, errors.New("the server's answer has no token_info")
	}
	return out.TokenInfo, nil
}

// TokenFilter selects tokens in token management; zero fields do not
// filter.
type TokenFilter struct {
	CreatedByID       int64
	CreatedByUsername string
}

// ListAllTokens lists every valid token of the workspace (admins; GET
// /api/2.0/token-management/tokens).
func (c *Client) ListAllTokens(ctx context.Context, f TokenFilter) ([]TokenInfo, error) {
	q := url.Values{}
	if f.CreatedByID != 0 {
		q.Set("created_by_id", strconv.FormatInt(f.CreatedByID, 10))
	}
	if f.CreatedByUsername != "" {
		q.Set("created_by_username", f.CreatedByUsername)
	}
	var out struct {
		TokenInfos []TokenInfo `json:"token_infos"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/api/2.0/token-management/tokens", q, nil, &out); err != nil {
		return nil, err
	}
	return nonNil(out.TokenInfos), nil
}

// GetToken describes any token (admins; GET
// /api/2.0/token-management/tokens/{id}).
func (c *Client) GetToken(ctx context.Context, tokenID string) (*TokenInfo, error) {
	var out struct {
		TokenInfo *TokenInfo `json:"token_info"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/api/2.0/token-management/tokens/"+url.PathEscape(tokenID), nil, nil, &out); err != nil {
		return nil, err
	}
	if out.TokenInfo == nil {
		return nil, errors.New("the server's answer has no token_info")
	}
	return out.TokenInfo, nil
}

// RevokeToken revokes any token (admins; DELETE
// /api/2.0/token-management/tokens/{id}).
func (c *Client) RevokeToken(ctx context.Context, tokenID string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/2.0/token-management/tokens/"+url.PathEscape(tokenID), nil, nil, nil)
	return err
}

// AccessControlRequest grants a permission level to one of a user, a
// group or a service principal (by application id).
type AccessControlRequest struct {
	UserName             string `json:"user_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
	PermissionLevel      string `json:"permission_level"`
}

// Permission is one level a grantee holds.
type Permission struct {
	PermissionLevel string `json:"permission_level"`
	Inherited       bool   `json:"inherited"`
}

// AccessControlResponse is one grantee and what it holds.
type AccessControlResponse struct {
	UserName             string       `json:"user_name,omitempty"`
	GroupName            string       `json:"group_name,omitempty"`
	ServicePrincipalName string       `json:"service_principal_name,omitempty"`
	DisplayName          string       `json:"display_name,omitempty"`
	AllPermissions       []Permission `json:"all_permissions"`
}

// ObjectPermissions is the access control list of an object.
type ObjectPermissions struct {
	ObjectID          string                  `json:"object_id"`
	ObjectType        string                  `json:"object_type"`
	AccessControlList []AccessControlResponse `json:"access_control_list"`
}

const tokenPermissionsPath = "/api/2.0/permissions/authorization/tokens"

// GetTokenPermissions returns who may use tokens (admins).
func (c *Client) GetTokenPermissions(ctx context.Context) (*ObjectPermissions, error) {
	var out ObjectPermissions
	if _, err := c.Do(ctx, http.MethodGet, tokenPermissionsPath, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetTokenPermissions replaces every direct grant on tokens with acl
// (admins; PUT). The admins group keeps CAN_MANAGE whatever acl says.
func (c *Client) SetTokenPermissions(ctx context.Context, acl []AccessControlRequest) (*ObjectPermissions, error) {
	if acl == nil {
		acl = []AccessControlRequest{}
	}
	var out ObjectPermissions
	if _, err := c.Do(ctx, http.MethodPut, tokenPermissionsPath, nil, map[string]any{"access_control_list": acl}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateTokenPermissions adds grants on tokens (admins; PATCH).
func (c *Client) UpdateTokenPermissions(ctx context.Context, acl []AccessControlRequest) (*ObjectPermissions, error) {
	var out ObjectPermissions
	if _, err := c.Do(ctx, http.MethodPatch, tokenPermissionsPath, nil, map[string]any{"access_control_list": acl}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWorkspaceConf returns the values of the named settings (admins; GET
// /api/2.0/workspace-conf?keys=…). A setting never set may come back empty.
func (c *Client) GetWorkspaceConf(ctx context.Context, keys []string) (map[string]string, error) {
	var raw map[string]*string
	if _, err := c.Do(ctx, http.MethodGet, "/api/2.0/workspace-conf", url.Values{"keys": {strings.Join(keys, ",")}}, nil, &raw); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = ""
		}
	}
	return out, nil
}

// SetWorkspaceConf changes settings, all or none (admins; PATCH
// /api/2.0/workspace-conf). Values are strings: "true", "90".
func (c *Client) SetWorkspaceConf(ctx context.Context, kv map[string]string) error {
	_, err := c.Do(ctx, http.MethodPatch, "/api/2.0/workspace-conf", nil, kv, nil)
	return err
}

// scimList pages through a SCIM list: it asks from startIndex 1 and
// advances by the number of items received until a page is empty or the
// total is reached.
func (c *Client) scimList(ctx context.Context, resource, filter string) ([]Principal, error) {
	var all []Principal
	start := 1
	for {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {"1000"}}
		if filter != "" {
			q.Set("filter", filter)
		}
		var page struct {
			TotalResults int         `json:"totalResults"`
			Resources    []Principal `json:"Resources"`
		}
		if _, err := c.Do(ctx, http.MethodGet, scimPrefix+resource, q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Resources...)
		if len(page.Resources) == 0 || len(all) >= page.TotalResults {
			return nonNil(all), nil
		}
		start += len(page.Resources)
	}
}

// scimFilterValue quotes a value for a SCIM eq filter.
func scimFilterValue(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// ListUsers lists every user, or those with the given user name.
func (c *Client) ListUsers(ctx context.Context, userName string) ([]Principal, error) {
	f := ""
	if userName != "" {
		f = "userName eq " + scimFilterValue(userName)
	}
	return c.scimList(ctx, "Users", f)
}

// CreateUser creates a user (admins).
func (c *Client) CreateUser(ctx context.Context, u Principal) (*Principal, error) {
	if u.Schemas == nil {
		u.Schemas = []string{"urn:ietf:params:scim:schemas:core:2.0:User"}
	}
	var out Principal
	if _, err := c.Do(ctx, http.MethodPost, scimPrefix+"Users", nil, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteUser deletes a user by SCIM id, with the user's tokens (admins).
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, scimPrefix+"Users/"+url.PathEscape(id), nil, nil, nil)
	return err
}

// ListServicePrincipals lists every service principal, or the one with
// the given application id.
func (c *Client) ListServicePrincipals(ctx context.Context, applicationID string) ([]Principal, error) {
	f := ""
	if applicationID != "" {
		f = "applicationId eq " + scimFilterValue(applicationID)
	}
	return c.scimList(ctx, "ServicePrincipals", f)
}

// CreateServicePrincipal creates a service principal (admins); an empty
// ApplicationID is generated by the server.
func (c *Client) CreateServicePrincipal(ctx context.Context, sp Principal) (*Principal, error) {
	if sp.Schemas == nil {
		sp.Schemas = []string{"urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"}
	}
	var out Principal
	if _, err := c.Do(ctx, http.MethodPost, scimPrefix+"ServicePrincipals", nil, sp, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteServicePrincipal deletes a service principal by SCIM id, with its
// tokens (admins).
func (c *Client) DeleteServicePrincipal(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, scimPrefix+"ServicePrincipals/"+url.PathEscape(id), nil, nil, nil)
	return err
}

// Group is a SCIM group, as far as the CLI needs it.
type Group struct {
	ID          string         `json:"id"`
	DisplayName string         `json:"displayName"`
	Members     []ComplexValue `json:"members,omitempty"`
}

// GroupByName finds a group by display name; a missing group is an
// [*APIError] with status 404.
func (c *Client) GroupByName(ctx context.Context, name string) (*Group, error) {
	q := url.Values{"filter": {"displayName eq " + scimFilterValue(name)}}
	var page struct {
		Resources []Group `json:"Resources"`
	}
	if _, err := c.Do(ctx, http.MethodGet, scimPrefix+"Groups", q, nil, &page); err != nil {
		return nil, err
	}
	if len(page.Resources) == 0 {
		return nil, &APIError{StatusCode: http.StatusNotFound, ErrorCode: "RESOURCE_DOES_NOT_EXIST", Message: "Group " + name + " does not exist.", Method: http.MethodGet, Path: scimPrefix + "Groups"}
	}
	return &page.Resources[0], nil
}

// AuditEvent is one entry of kiln's audit log. Time is epoch milliseconds.
type AuditEvent struct {
	ID         int64             `json:"id"`
	Time       int64             `json:"time"`
	Action     string            `json:"action"`
	ActorID    int64             `json:"actor_id,omitempty"`
	ActorName  string            `json:"actor_name,omitempty"`
	Target     string            `json:"target,omitempty"`
	RemoteAddr string            `json:"remote_addr,omitempty"`
	Detail     map[string]string `json:"detail,omitempty"`
	Count      int               `json:"count"`
}

// AuditFilter selects audit events; zero fields do not filter.
type AuditFilter struct {
	Action string
	Actor  string
	Since  time.Time
	Until  time.Time
	// BeforeID pages backwards: the NextBeforeID of the previous page.
	BeforeID int64
	// Limit is the page size, 1 to 1000; zero means the server's default.
	Limit int
}

// AuditPage is one page of events, newest first. NextBeforeID is zero on
// the last page.
type AuditPage struct {
	Events       []AuditEvent `json:"events"`
	NextBeforeID int64        `json:"next_before_id,omitempty"`
}

// ListAudit returns a page of the audit log (admins; GET
// /api/kiln/v1/audit, kiln only).
func (c *Client) ListAudit(ctx context.Context, f AuditFilter) (*AuditPage, error) {
	q := url.Values{}
	if f.Action != "" {
		q.Set("action", f.Action)
	}
	if f.Actor != "" {
		q.Set("actor", f.Actor)
	}
	if !f.Since.IsZero() {
		q.Set("since", strconv.FormatInt(f.Since.UnixMilli(), 10))
	}
	if !f.Until.IsZero() {
		q.Set("until", strconv.FormatInt(f.Until.UnixMilli(), 10))
	}
	if f.BeforeID != 0 {
		q.Set("before_id", strconv.FormatInt(f.BeforeID, 10))
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out AuditPage
	if _, err := c.Do(ctx, http.MethodGet, "/api/kiln/v1/audit", q, nil, &out); err != nil {
		return nil, err
	}
	out.Events = nonNil(out.Events)
	return &out, nil
}

// nonNil turns a nil slice into an empty one, so that JSON output is []
// rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// RotateToken replaces one of the caller's tokens (any, for admins) with a
// new one of the same owner, comment and lifetime; the old one keeps
// working for grace (nil: the server's default). POST
// /api/kiln/v1/tokens/{id}/rotate, kiln only.
func (c *Client) RotateToken(ctx context.Context, tokenID string, grace *time.Duration) (*RotateTokenResponse, error) {
	body := map[string]int64{}
	if grace != nil {
		body["grace_seconds"] = int64(grace.Seconds())
	}
	var out RotateTokenResponse
	if _, err := c.Do(ctx, http.MethodPost, "/api/kiln/v1/tokens/"+url.PathEscape(tokenID)+"/rotate", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateTokenResponse is a rotation's answer: the new token, as
// CreateToken answers it, and the old one as it now is (expiring at the
// end of its grace period).
type RotateTokenResponse struct {
	CreateTokenResponse
	RotatedTokenInfo TokenInfo `json:"rotated_token_info"`
}

// TokenAddress is a source address a token was used from.
type TokenAddress struct {
	Address   string `json:"address"`
	FirstSeen int64  `json:"first_seen"`
	LastSeen  int64  `json:"last_seen"`
}

// TokenLookup is what a token value is (kiln only).
type TokenLookup struct {
	TokenInfo       TokenInfo      `json:"token_info"`
	Owner           string         `json:"owner"`
	State           string         `json:"state"`
	Live            bool           `json:"live"`
	Revoked         bool           `json:"revoked"`
	RevokedNow      bool           `json:"revoked_now"`
	SourceAddresses []TokenAddress `json:"source_addresses"`
}

// LookupToken finds the token a value belongs to, revoking it with
// revoke (admins; POST /api/kiln/v1/token-management/lookup, kiln only).
func (c *Client) LookupToken(ctx context.Context, value string, revoke bool) (*TokenLookup, error) {
	var out TokenLookup
	in := map[string]any{"token_value": value, "revoke": revoke}
	if _, err := c.Do(ctx, http.MethodPost, "/api/kiln/v1/token-management/lookup", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OAuthSecret is a service principal's OAuth secret; Secret is set only
// in the answer to its creation.
type OAuthSecret struct {
	ID         string `json:"id"`
	Secret     string `json:"secret,omitempty"`
	SecretHash string `json:"secret_hash"`
	Status     string `json:"status"`
	CreateTime string `json:"create_time"`
	ExpireTime string `json:"expire_time,omitempty"`
}

func secretsPath(spID string) string {
	return "/api/2.0/accounts/servicePrincipals/" + url.PathEscape(spID) + "/credentials/secrets"
}

// CreateOAuthSecret creates an OAuth secret for the service principal
// with SCIM id (or application id) spID, living lifetimeSeconds (0: the
// server's default, 730 days). Admins only.
func (c *Client) CreateOAuthSecret(ctx context.Context, spID string, lifetimeSeconds int64) (*OAuthSecret, error) {
	body := map[string]string{}
	if lifetimeSeconds > 0 {
		body["lifetime"] = strconv.FormatInt(lifetimeSeconds, 10) + "s"
	}
	var out OAuthSecret
	if _, err := c.Do(ctx, http.MethodPost, secretsPath(spID), nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListOAuthSecrets lists a service principal's OAuth secrets (never
// their values). Admins only.
func (c *Client) ListOAuthSecrets(ctx context.Context, spID string) ([]OAuthSecret, error) {
	var out struct {
		Secrets []OAuthSecret `json:"secrets"`
	}
	if _, err := c.Do(ctx, http.MethodGet, secretsPath(spID), nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Secrets, nil
}

// DeleteOAuthSecret deletes a service principal's OAuth secret; access
// tokens bought with it stop working at once. Admins only.
func (c *Client) DeleteOAuthSecret(ctx context.Context, spID, secretID string) error {
	_, err := c.Do(ctx, http.MethodDelete, secretsPath(spID)+"/"+url.PathEscape(secretID), nil, nil, nil)
	return err
}
