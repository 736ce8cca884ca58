package api

import (
	"net/http"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// ipAccessListInfo is Databricks' IpAccessListInfo.
type ipAccessListInfo struct {
	ListID       string   `json:"list_id"`
	Label        string   `json:"label"`
	ListType     string   `json:"list_type"`
	IPAddresses  []string `json:"ip_addresses"`
	AddressCount int      `json:"address_count"`
	Enabled      bool     `json:"enabled"`
	CreatedAt    int64    `json:"created_at"`
	CreatedBy    int64    `json:"created_by"`
	UpdatedAt    int64    `json:"updated_at"`
	UpdatedBy    int64    `json:"updated_by"`
}

func ipAccessListOf(l *kiln.IPAccessList) ipAccessListInfo {
	return ipAccessListInfo{
		ListID: l.ID, Label: l.Label, ListType: l.ListType, IPAddresses: l.Addresses, AddressCount: len(l.Addresses),
		Enabled: l.Enabled, CreatedAt: kiln.MillisOf(l.Created), CreatedBy: l.CreatedBy,
		UpdatedAt: kiln.MillisOf(l.Updated), UpdatedBy: l.UpdatedBy,
	}
}

type ipAccessListResponse struct {
	IPAccessList ipAccessListInfo `json:"ip_access_list"`
}

// Empty lists are left out, as Databricks does.
type listIPAccessListsResponse struct {
	IPAccessLists []ipAccessListInfo `json:"ip_access_lists,omitempty"`
}

// ipAccessListRequest is the body of create (POST), replace (PUT) and
// update (PATCH); which fields are required depends on the verb.
type ipAccessListRequest struct {
	Label       *string   `json:"label"`
	ListType    *string   `json:"list_type"`
	IPAddresses *[]string `json:"ip_addresses"`
	Enabled     *flexBool `json:"enabled"`
}

// spec returns the request as a create or replace, refusing a missing
// field of required.
func (q ipAccessListRequest) spec(requireEnabled bool) (service.IPAccessListSpec, error) {
	var sp service.IPAccessListSpec
	switch {
	case q.Label == nil:
		return sp, kiln.Errorf(kiln.EInvalid, "label is required.")
	case q.ListType == nil:
		return sp, kiln.Errorf(kiln.EInvalid, "list_type is required: ALLOW or BLOCK.")
	case requireEnabled && q.Enabled == nil:
		return sp, kiln.Errorf(kiln.EInvalid, "enabled is required.")
	}
	sp.Label, sp.ListType = *q.Label, *q.ListType
	if q.IPAddresses != nil {
		sp.Addresses = *q.IPAddresses
	}
	if q.Enabled != nil {
		sp.Enabled = bool(*q.Enabled)
	}
	return sp, nil
}

func (s *Server) createIPAccessList(w http.ResponseWriter, r *http.Request) error {
	var q ipAccessListRequest
	if err := decodeBody(r, &q, true); err != nil {
		return err
	}
	sp, err := q.spec(false)
	if err != nil {
		return err
	}
	l, err := s.svc.CreateIPAccessList(r.Context(), sp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ipAccessListResponse{ipAccessListOf(l)})
	return nil
}

func (s *Server) listIPAccessLists(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.svc.ListIPAccessLists(r.Context())
	if err != nil {
		return err
	}
	var resp listIPAccessListsResponse
	for _, l := range ls {
		resp.IPAccessLists = append(resp.IPAccessLists, ipAccessListOf(l))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getIPAccessList(w http.ResponseWriter, r *http.Request) error {
	l, err := s.svc.GetIPAccessList(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ipAccessListResponse{ipAccessListOf(l)})
	return nil
}

func (s *Server) updateIPAccessList(w http.ResponseWriter, r *http.Request) error {
	var q ipAccessListRequest
	if err := decodeBody(r, &q, true); err != nil {
		return err
	}
	p := service.IPAccessListPatch{Label: q.Label, ListType: q.ListType, Addresses: q.IPAddresses}
	if q.Enabled != nil {
		p.Enabled = (*bool)(q.Enabled)
	}
	if err := s.svc.UpdateIPAccessList(r.Context(), r.PathValue("id"), p); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) replaceIPAccessList(w http.ResponseWriter, r *http.Request) error {
	var q ipAccessListRequest
	if err := decodeBody(r, &q, true); err != nil {
		return err
	}
	sp, err := q.spec(true)
	if err != nil {
		return err
	}
	if err := s.svc.ReplaceIPAccessList(r.Context(), r.PathValue("id"), sp); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}

func (s *Server) deleteIPAccessList(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteIPAccessList(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, empty)
	return nil
}
