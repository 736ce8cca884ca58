package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
)

type auditEventJSON struct {
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

// parseTime reads epoch milliseconds or RFC 3339.
func parseTime(key, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, kiln.Errorf(kiln.EInvalid, "Parameter %s must be epoch milliseconds or an RFC 3339 time such as 2026-01-02T15:04:05Z.", key)
	}
	return t, nil
}

// listAudit serves GET /api/kiln/v1/audit: events newest first, filtered
// by action, actor, since and until, paged with before_id (the
// next_before_id of the previous page).
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r)
	if err != nil {
		return err
	}
	var f kiln.AuditFilter
	if f.Action, err = p.get("action"); err != nil {
		return err
	}
	if f.ActorName, err = p.get("actor"); err != nil {
		return err
	}
	for key, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		v, err := p.get(key)
		if err != nil {
			return err
		}
		if *dst, err = parseTime(key, v); err != nil {
			return err
		}
	}
	sum, err := p.get("token_sha256")
	if err != nil {
		return err
	}
	if sum != "" {
		if f.TokenSHA256, err = hex.DecodeString(strings.ToLower(sum)); err != nil || len(f.TokenSHA256) != sha256.Size {
			return kiln.Errorf(kiln.EInvalid, "Parameter token_sha256 must be the SHA-256 of a token value: 64 hexadecimal characters (sha256sum prints it).")
		}
	}
	if f.BeforeID, err = p.int("before_id", 0); err != nil {
		return err
	}
	if f.Limit, err = p.limit(); err != nil {
		return err
	}
	evs, err := s.svc.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]auditEventJSON, 0, len(evs))
	for _, e := range evs {
		out = append(out, auditEventJSON{e.ID, kiln.MillisOf(e.Time), e.Action, e.ActorID, e.ActorName, e.Target, e.RemoteAddr, e.Detail, e.Count})
	}
	resp := map[string]any{"events": out}
	if len(evs) == f.Limit {
		resp["next_before_id"] = evs[len(evs)-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
