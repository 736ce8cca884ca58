package api

import (
	"net/http"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

type aclRequestItem struct {
	UserName             string `json:"user_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
	PermissionLevel      string `json:"permission_level"`
}

type permission struct {
	PermissionLevel string `json:"permission_level"`
	Inherited       bool   `json:"inherited"`
}

type aclResponseItem struct {
	UserName             string       `json:"user_name,omitempty"`
	GroupName            string       `json:"group_name,omitempty"`
	ServicePrincipalName string       `json:"service_principal_name,omitempty"`
	DisplayName          string       `json:"display_name,omitempty"`
	AllPermissions       []permission `json:"all_permissions"`
}

type objectPermissions struct {
	ObjectID          string            `json:"object_id"`
	ObjectType        string            `json:"object_type"`
	AccessControlList []aclResponseItem `json:"access_control_list"`
}

func renderACL(acl []kiln.ACLEntry) objectPermissions {
	out := objectPermissions{ObjectID: "/authorization/tokens", ObjectType: "tokens", AccessControlList: []aclResponseItem{}}
	for _, e := range acl {
		out.AccessControlList = append(out.AccessControlList, aclResponseItem{
			UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName,
			AllPermissions: []permission{{PermissionLevel: e.Level}},
		})
	}
	return out
}

func (s *Server) getTokenPermissions(w http.ResponseWriter, r *http.Request) error {
	acl, err := s.svc.TokenPermissions(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderACL(acl))
	return nil
}

func (s *Server) changeTokenPermissions(w http.ResponseWriter, r *http.Request, replace bool) error {
	var req struct {
		AccessControlList []aclRequestItem `json:"access_control_list"`
	}
	if err := decodeBody(r, &req, true); err != nil {
		return err
	}
	if req.AccessControlList == nil && !replace {
		return kiln.Errorf(kiln.EInvalid, "access_control_list is required.")
	}
	entries := make([]kiln.ACLEntry, 0, len(req.AccessControlList))
	for _, e := range req.AccessControlList {
		entries = append(entries, kiln.ACLEntry{UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName, Level: e.PermissionLevel})
	}
	acl, err := s.svc.SetTokenPermissions(r.Context(), entries, replace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderACL(acl))
	return nil
}

func (s *Server) setTokenPermissions(w http.ResponseWriter, r *http.Request) error {
	return s.changeTokenPermissions(w, r, true)
}

func (s *Server) updateTokenPermissions(w http.ResponseWriter, r *http.Request) error {
	return s.changeTokenPermissions(w, r, false)
}

func (s *Server) tokenPermissionLevels(w http.ResponseWriter, r *http.Request) error {
	if !service.IsAdmin(r.Context()) {
		return kiln.Errorf(kiln.EPermission, "Only workspace admins can do this.")
	}
	type level struct {
		PermissionLevel string `json:"permission_level"`
		Description     string `json:"description"`
	}
	var out []level
	for _, l := range service.TokenPermissionLevels() {
		out = append(out, level{l.Level, l.Description})
	}
	writeJSON(w, http.StatusOK, map[string]any{"permission_levels": out})
	return nil
}
