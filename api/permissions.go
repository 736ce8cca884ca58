package api

import (
	"net/http"
	"strconv"

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
	PermissionLevel     string   `json:"permission_level"`
	Inherited           bool     `json:"inherited"`
	InheritedFromObject []string `json:"inherited_from_object,omitempty"`
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

// renderACL is the token permissions in the API's shape.
func renderACL(acl []kiln.ACLEntry) objectPermissions {
	ps := make([]service.Permission, len(acl))
	for i, e := range acl {
		ps[i] = service.Permission{ACLEntry: e}
	}
	return renderPermissions("tokens", "/authorization/tokens", ps)
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
	entries, err := decodeACL(r, replace)
	if err != nil {
		return err
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
	writeLevels(w, service.TokenPermissionLevels())
	return nil
}

// decodeACL reads a PUT or PATCH body of the Permissions API; PATCH
// requires the list.
func decodeACL(r *http.Request, replace bool) ([]kiln.ACLEntry, error) {
	var req struct {
		AccessControlList []aclRequestItem `json:"access_control_list"`
	}
	if err := decodeBody(r, &req, true); err != nil {
		return nil, err
	}
	if req.AccessControlList == nil && !replace {
		return nil, kiln.Errorf(kiln.EInvalid, "access_control_list is required.")
	}
	entries := make([]kiln.ACLEntry, 0, len(req.AccessControlList))
	for _, e := range req.AccessControlList {
		entries = append(entries, kiln.ACLEntry{UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName, Level: e.PermissionLevel})
	}
	return entries, nil
}

// writeLevels answers permissionLevels.
func writeLevels(w http.ResponseWriter, levels []service.PermissionLevel) {
	type level struct {
		PermissionLevel string `json:"permission_level"`
		Description     string `json:"description"`
	}
	out := []level{}
	for _, l := range levels {
		out = append(out, level{l.Level, l.Description})
	}
	writeJSON(w, http.StatusOK, map[string]any{"permission_levels": out})
}

// renderPermissions is an object's permissions in the API's shape.
func renderPermissions(objectType, objectID string, ps []service.Permission) objectPermissions {
	out := objectPermissions{ObjectID: objectID, ObjectType: objectType, AccessControlList: []aclResponseItem{}}
	for _, p := range ps {
		out.AccessControlList = append(out.AccessControlList, aclResponseItem{
			UserName: p.UserName, GroupName: p.GroupName, ServicePrincipalName: p.ServicePrincipalName,
			AllPermissions: []permission{{PermissionLevel: p.Level, Inherited: p.Inherited, InheritedFromObject: p.InheritedFrom}},
		})
	}
	return out
}

// jobPermissionsID reads the {id} of a job's permissions path.
func jobPermissionsID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, kiln.Errorf(kiln.EInvalid, "Job id %.40q is not a valid id.", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) getJobPermissions(w http.ResponseWriter, r *http.Request) error {
	id, err := jobPermissionsID(r)
	if err != nil {
		return err
	}
	ps, err := s.svc.JobPermissions(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderPermissions("job", "/jobs/"+strconv.FormatInt(id, 10), ps))
	return nil
}

func (s *Server) changeJobPermissions(replace bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := jobPermissionsID(r)
		if err != nil {
			return err
		}
		entries, err := decodeACL(r, replace)
		if err != nil {
			return err
		}
		ps, err := s.svc.SetJobPermissions(r.Context(), id, entries, replace)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, renderPermissions("job", "/jobs/"+strconv.FormatInt(id, 10), ps))
		return nil
	}
}

func (s *Server) jobPermissionLevels(w http.ResponseWriter, r *http.Request) error {
	id, err := jobPermissionsID(r)
	if err != nil {
		return err
	}
	if _, err := s.svc.JobPermissions(r.Context(), id); err != nil {
		return err // the job must exist for the caller
	}
	writeLevels(w, service.JobPermissionLevels())
	return nil
}

func (s *Server) getObjectPermissions(objectType string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ps, ref, err := s.svc.WorkspaceObjectPermissions(r.Context(), objectType, r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, renderPermissions(ref.ObjectType, ref.ObjectID, ps))
		return nil
	}
}

func (s *Server) changeObjectPermissions(objectType string, replace bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		entries, err := decodeACL(r, replace)
		if err != nil {
			return err
		}
		ps, ref, err := s.svc.SetWorkspaceObjectPermissions(r.Context(), objectType, r.PathValue("id"), entries, replace)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, renderPermissions(ref.ObjectType, ref.ObjectID, ps))
		return nil
	}
}

func (s *Server) objectPermissionLevels(objectType string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, _, err := s.svc.WorkspaceObjectPermissions(r.Context(), objectType, r.PathValue("id")); err != nil {
			return err // the object must exist for the caller
		}
		writeLevels(w, service.WorkspaceObjectPermissionLevels())
		return nil
	}
}

func (s *Server) getClusterPermissions(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ps, err := s.svc.ClusterPermissions(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, renderPermissions("cluster", "/clusters/"+id, ps))
	return nil
}

func (s *Server) changeClusterPermissions(replace bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		entries, err := decodeACL(r, replace)
		if err != nil {
			return err
		}
		ps, err := s.svc.SetClusterPermissions(r.Context(), id, entries, replace)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, renderPermissions("cluster", "/clusters/"+id, ps))
		return nil
	}
}

func (s *Server) clusterPermissionLevels(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.svc.ClusterPermissions(r.Context(), r.PathValue("id")); err != nil {
		return err // the cluster must exist
	}
	writeLevels(w, service.ClusterPermissionLevels())
	return nil
}

// noSuchObject answers the permissions of an object type kiln has none of
// (instance pools, cluster policies): whatever the id, it does not exist.
func (s *Server) noSuchObject(objectType string) handlerFunc {
	noun := map[string]string{"instance-pools": "Instance pool", "cluster-policies": "Cluster policy"}[objectType]
	return func(w http.ResponseWriter, r *http.Request) error {
		return kiln.Errorf(kiln.ENotFound, "%s %.64s does not exist.", noun, r.PathValue("id"))
	}
}
