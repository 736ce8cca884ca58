package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/auth"
)

// OAuth audit actions.
const (
	AuditOAuthSecretCreate = "oauth.secret_create"
	AuditOAuthSecretDelete = "oauth.secret_delete"
	AuditOAuthToken        = "oauth.token"
)

// OAuth limits.
const (
	// DefaultSecretLifetime is a new secret's lifetime when none is asked
	// for, as on Databricks (730 days), and the longest allowed.
	DefaultSecretLifetime = 730 * 24 * time.Hour
	// AccessTokenLifetime is how long an access token lives (Databricks:
	// one hour).
	AccessTokenLifetime = time.Hour
	// MaxSecretsPerPrincipal bounds a service principal's secrets (5 on
	// Databricks).
	MaxSecretsPerPrincipal = 5
	// secretPrefix starts every OAuth secret, as Databricks' "dose"
	// secrets, so secret scanners find leaked ones.
	secretPrefix = "dose"
)

// NewOAuthSecret is a freshly created secret: its value exists only here.
type NewOAuthSecret struct {
	Value string
	Info  *kiln.OAuthSecret
}

// AccessToken is an issued OAuth access token.
type AccessToken struct {
	Value   string
	Expires time.Time
	// Scope is what was granted, space-separated ("all-apis": unrestricted).
	Scope string
}

// servicePrincipalByRef finds a service principal by its numeric id or
// its application id.
func servicePrincipalByRef(tx kiln.Tx, ref string) (*kiln.Principal, error) {
	var sp *kiln.Principal
	var err error
	if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
		sp, err = tx.Principal(id)
	} else {
		sp, err = tx.PrincipalByName(ref)
	}
	if kiln.IsCode(err, kiln.ENotFound) || (err == nil && sp.Kind != kiln.KindServicePrincipal) {
		return nil, kiln.Errorf(kiln.ENotFound, "Service principal %s does not exist.", ref)
	}
	return sp, err
}

// ParseSecretLifetime reads Databricks' lifetime field: seconds with an
// "s" suffix ("63072000s"), or a bare number of seconds. Empty is the
// default; more than the default is EInvalid.
func ParseSecretLifetime(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultSecretLifetime, nil
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(v, "s"), 10, 64)
	if err != nil || n <= 0 {
		return 0, kiln.Errorf(kiln.EInvalid, "lifetime must be a positive number of seconds such as \"3600s\", not %q.", v)
	}
	if n > int64(DefaultSecretLifetime/time.Second) {
		return 0, kiln.Errorf(kiln.EInvalid, "lifetime may be at most %ds (730 days).", int64(DefaultSecretLifetime/time.Second))
	}
	return time.Duration(n) * time.Second, nil
}

// CreateOAuthSecret creates a secret for the service principal ref
// (numeric id or application id); admins only.
func (s *Service) CreateOAuthSecret(ctx context.Context, ref string, lifetime time.Duration) (*NewOAuthSecret, error) {
	c, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var b [32]byte
	rand.Read(b[:])
	value := secretPrefix + hex.EncodeToString(b[:])
	d := s.index.Key().Digest(value)
	sum := sha256.Sum256([]byte(value))
	var sec *kiln.OAuthSecret
	err = s.update(ctx, func(tx kiln.Tx) error {
		sp, err := servicePrincipalByRef(tx, ref)
		if err != nil {
			return err
		}
		existing, err := tx.OAuthSecrets(sp.ID)
		if err != nil {
			return err
		}
		if len(existing) >= MaxSecretsPerPrincipal {
			return kiln.Errorf(kiln.EQuota, "Service principal %s already has %d secrets, the most allowed. Delete one first.", sp.UserName, MaxSecretsPerPrincipal)
		}
		now := tx.Now()
		sec = &kiln.OAuthSecret{ID: auth.NewTokenID()[:32], PrincipalID: sp.ID, Digest: d[:], SecretHash: hex.EncodeToString(sum[:]),
			Created: now, Updated: now, Expires: now.Add(lifetime)}
		if err := tx.CreateOAuthSecret(sec); err != nil {
			return err
		}
		ev := auditEvent(c, AuditOAuthSecretCreate, "service_principal:"+sp.UserName)
		ev.Detail = map[string]string{"secret_id": sec.ID, "expires": sec.Expires.Format(time.RFC3339)}
		if err := tx.Audit(ev); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeOAuth, "secret:"+sec.ID)
	})
	if err != nil {
		return nil, err
	}
	return &NewOAuthSecret{Value: value, Info: sec}, nil
}

// OAuthSecrets lists the secrets of service principal ref; admins only.
func (s *Service) OAuthSecrets(ctx context.Context, ref string) ([]*kiln.OAuthSecret, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var out []*kiln.OAuthSecret
	err := s.view(ctx, func(tx kiln.Tx) error {
		sp, err := servicePrincipalByRef(tx, ref)
		if err != nil {
			return err
		}
		out, err = tx.OAuthSecrets(sp.ID)
		return err
	})
	return out, err
}

// DeleteOAuthSecret deletes a secret of service principal ref; access
// tokens issued with it stop working on the next request. Admins only.
func (s *Service) DeleteOAuthSecret(ctx context.Context, ref, id string) error {
	c, err := requireAdmin(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, func(tx kiln.Tx) error {
		sp, err := servicePrincipalByRef(tx, ref)
		if err != nil {
			return err
		}
		if err := tx.DeleteOAuthSecret(sp.ID, id); err != nil {
			return err
		}
		ev := auditEvent(c, AuditOAuthSecretDelete, "service_principal:"+sp.UserName)
		ev.Detail = map[string]string{"secret_id": id}
		if err := tx.Audit(ev); err != nil {
			return err
		}
		return tx.Notify(kiln.ChangeOAuth, "secret:"+id)
	})
}

// errInvalidClient is every client_credentials failure: unknown client,
// wrong or expired secret, inactive principal. One answer for all, so the
// endpoint tells an attacker nothing.
var errInvalidClient = kiln.Errorf(kiln.EUnauthenticated, "Client authentication failed.")

// ClientCredentials exchanges a service principal's application id and
// secret for an access token (grant_type=client_credentials). scope is
// the requested scopes, space-separated; empty is all-apis. issuer is
// the token endpoint's issuer URL.
func (s *Service) ClientCredentials(ctx context.Context, clientID, secret, scope, issuer, remoteAddr string) (*AccessToken, error) {
	scopes, err := kiln.NormalizeScopes(strings.Fields(scope))
	if err != nil {
		return nil, err
	}
	if clientID == "" || !strings.HasPrefix(secret, secretPrefix) || len(secret) > 256 {
		return nil, errInvalidClient
	}
	d := s.index.Key().Digest(secret)
	var (
		sp  *kiln.Principal
		sec *kiln.OAuthSecret
	)
	now := s.now().UTC()
	err = s.update(ctx, func(tx kiln.Tx) error {
		var err error
		sec, err = tx.OAuthSecretByDigest(d[:])
		if kiln.IsCode(err, kiln.ENotFound) {
			return errInvalidClient
		}
		if err != nil {
			return err
		}
		sp, err = tx.Principal(sec.PrincipalID)
		if err != nil {
			return err
		}
		if !strings.EqualFold(sp.UserName, clientID) || sp.Kind != kiln.KindServicePrincipal || !sp.Active || sec.ExpiredAt(now) {
			return errInvalidClient
		}
		ev := kiln.AuditEvent{Action: AuditOAuthToken, ActorID: sp.ID, ActorName: sp.UserName, Target: "secret:" + sec.ID,
			RemoteAddr: remoteAddr, Detail: map[string]string{"grant_type": "client_credentials", "scope": kiln.ScopeString(scopes)}}
		return tx.Audit(ev)
	})
	if err != nil {
		return nil, err
	}
	exp := now.Add(AccessTokenLifetime)
	if !sec.Expires.IsZero() && sec.Expires.Before(exp) {
		exp = sec.Expires
	}
	return s.issue(issuer, sp, "secret:"+sec.ID, sp.UserName, scopes, now, exp)
}

// issue signs an access token.
func (s *Service) issue(issuer string, p *kiln.Principal, cred, clientID string, scopes []string, now, exp time.Time) (*AccessToken, error) {
	scope := kiln.ScopeString(scopes)
	v, err := s.index.Key().MintAccessToken(issuer, auth.AccessClaims{Subject: p.UserName, PrincipalID: p.ID,
		Credential: cred, ClientID: clientID, Scope: scope, Issued: now, Expires: exp})
	if err != nil {
		return nil, kiln.Internal(err)
	}
	return &AccessToken{Value: v, Expires: exp, Scope: scope}, nil
}
