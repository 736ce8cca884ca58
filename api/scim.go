package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/service"
)

// scimKind is one SCIM resource type.
type scimKind struct {
	resource string // path segment: Users, ServicePrincipals, Groups
	kind     kiln.PrincipalKind
	group    bool
}

var scimKinds = []scimKind{
	{resource: "Users", kind: kiln.KindUser},
	{resource: "ServicePrincipals", kind: kiln.KindServicePrincipal},
	{resource: "Groups", group: true},
}

const (
	schemaUser      = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaUserExt   = "urn:ietf:params:scim:schemas:extension:workspace:2.0:User"
	schemaSP        = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"
	schemaGroup     = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaList      = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	maxSCIMPageSize = 10000
)

type complexValue struct {
	Display string `json:"display,omitempty"`
	Primary bool   `json:"primary,omitempty"`
	Ref     string `json:"$ref,omitempty"`
	Type    string `json:"type,omitempty"`
	Value   string `json:"value,omitempty"`
}

// entitlementValues renders entitlements as SCIM values.
func entitlementValues(ents []string) []complexValue {
	out := make([]complexValue, len(ents))
	for i, e := range ents {
		out[i] = complexValue{Value: e}
	}
	return out
}

// setEntitlements adds the entitlements attribute to m when there are
// any: Databricks leaves it out of a principal or group without direct
// entitlements (workspace and SQL access come from the users group).
func setEntitlements(m map[string]any, ents []string) {
	if len(ents) > 0 {
		m["entitlements"] = entitlementValues(ents)
	}
}

// entitlementNames reads SCIM entitlement values.
func entitlementNames(vs []complexValue) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Value
	}
	return out
}

func groupRefs(p *kiln.Principal) []complexValue {
	out := []complexValue{}
	for _, g := range p.Groups {
		id := strconv.FormatInt(g.ID, 10)
		out = append(out, complexValue{Display: g.Name, Type: "direct", Value: id, Ref: "Groups/" + id})
	}
	return out
}

// renderPrincipal is the SCIM form of a user or service principal.
func renderPrincipal(p *kiln.Principal) map[string]any {
	m := map[string]any{
		"id":          p.IDString(),
		"displayName": p.DisplayName,
		"active":      p.Active,
		"groups":      groupRefs(p),
	}
	setEntitlements(m, p.Entitlements)
	if p.ExternalID != "" {
		m["externalId"] = p.ExternalID
	}
	if p.Kind == kiln.KindServicePrincipal {
		m["schemas"] = []string{schemaSP}
		m["applicationId"] = p.UserName
		return m
	}
	m["schemas"] = []string{schemaUser, schemaUserExt}
	m["userName"] = p.UserName
	m["name"] = map[string]string{"givenName": p.GivenName, "familyName": p.FamilyName}
	m["emails"] = []complexValue{{Type: "work", Value: p.UserName, Primary: true}}
	return m
}

func renderGroup(g *kiln.Group) map[string]any {
	members := []complexValue{}
	for _, m := range g.Members {
		id := strconv.FormatInt(m.ID, 10)
		ref := "Users/" + id
		if m.Kind == kiln.KindServicePrincipal {
			ref = "ServicePrincipals/" + id
		}
		display := m.Display
		if display == "" {
			display = m.UserName
		}
		members = append(members, complexValue{Display: display, Value: id, Ref: ref})
	}
	m := map[string]any{
		"schemas":     []string{schemaGroup},
		"id":          strconv.FormatInt(g.ID, 10),
		"displayName": g.DisplayName,
		"members":     members,
		"meta":        map[string]string{"resourceType": "WorkspaceGroup"},
	}
	setEntitlements(m, g.Entitlements)
	return m
}

// alwaysReturned are the attributes every answer keeps, whatever
// attributes or excludedAttributes ask (RFC 7643 "returned: always", and
// as Databricks answers): Terraform re-reads a service principal with
// attributes=userName,displayName,… and needs its applicationId back.
var alwaysReturned = map[string]bool{"id": true, "schemas": true, "username": true, "applicationid": true}

// projectAttributes applies the SCIM attributes / excludedAttributes
// parameters to top-level attributes (a sub-attribute such as
// name.givenName keeps its parent); alwaysReturned ones stay.
func projectAttributes(m map[string]any, p params) map[string]any {
	if attrs := p.list("attributes"); len(attrs) > 0 {
		keep := map[string]bool{}
		for _, a := range attrs {
			keep[strings.ToLower(strings.SplitN(a, ".", 2)[0])] = true
		}
		for k := range m {
			if l := strings.ToLower(k); !keep[l] && !alwaysReturned[l] {
				delete(m, k)
			}
		}
	}
	for _, a := range p.list("excludedAttributes") {
		for k := range m {
			if strings.EqualFold(k, a) && !alwaysReturned[strings.ToLower(k)] {
				delete(m, k)
			}
		}
	}
	return m
}

// renderMe is the /Me form of a principal: a User resource. For a service
// principal Databricks reports the application id as userName, which
// Terraform's databricks_current_user and the CLI read (a UUID userName is
// how they tell a service principal from a user).
func renderMe(p *kiln.Principal) map[string]any {
	m := renderPrincipal(p)
	if p.Kind == kiln.KindServicePrincipal {
		m["userName"] = p.UserName
	}
	return m
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r)
	if err != nil {
		return err
	}
	me, err := s.svc.Me(r.Context())
	if err != nil {
		return err
	}
	if len(p.values) > 0 {
		writeSCIM(w, http.StatusOK, projectAttributes(renderMe(me), p))
		return nil
	}
	// /Me is what every client calls first and most often; its body only
	// changes with the principal snapshot, so it is rendered once per
	// snapshot.
	body := s.meBodies.get(me)
	if body == nil {
		if body, err = json.Marshal(renderMe(me)); err != nil {
			return kiln.Internal(err)
		}
		body = append(body, '\n')
		s.meBodies.put(me, body)
	}
	w.Header().Set("Content-Type", scimContentType+"; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}

// renderedPrincipals caches the /Me body of each principal snapshot. A
// snapshot is immutable, and a changed principal gets a new snapshot, so
// the pointer tells whether an entry is current.
type renderedPrincipals struct {
	mu sync.RWMutex
	m  map[int64]renderedPrincipal
}

type renderedPrincipal struct {
	p    *kiln.Principal
	body []byte
}

// maxRendered bounds the cache; past it the cache starts over.
const maxRendered = 100_000

func (c *renderedPrincipals) get(p *kiln.Principal) []byte {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e, ok := c.m[p.ID]; ok && e.p == p {
		return e.body
	}
	return nil
}

func (c *renderedPrincipals) put(p *kiln.Principal, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxRendered {
		c.m = map[int64]renderedPrincipal{}
	}
	c.m[p.ID] = renderedPrincipal{p: p, body: body}
}

// principalAttrOrder and groupAttrOrder list the attributes a filter or
// sortBy may name, in the order messages list them.
var (
	principalAttrOrder = []string{"id", "username", "applicationid", "displayname", "externalid", "active", "name.givenname", "name.familyname", "emails.value"}
	groupAttrOrder     = []string{"id", "displayname"}
)

// principalFilterAttrs are the filterable attributes of users (user) or
// service principals.
func principalFilterAttrs(user bool) scimAttrs[*kiln.Principal] {
	as := scimAttrs[*kiln.Principal]{
		"id":          {name: "id", str: (*kiln.Principal).IDString, exact: true, numeric: true},
		"displayname": {name: "displayName", str: func(p *kiln.Principal) string { return p.DisplayName }},
		"externalid":  {name: "externalId", str: func(p *kiln.Principal) string { return p.ExternalID }, exact: true},
		"active":      {name: "active", boolean: func(p *kiln.Principal) bool { return p.Active }},
	}
	userName := func(p *kiln.Principal) string { return p.UserName }
	if !user {
		as["applicationid"] = scimAttr[*kiln.Principal]{name: "applicationId", str: userName}
		return as
	}
	as["username"] = scimAttr[*kiln.Principal]{name: "userName", str: userName}
	as["emails.value"] = scimAttr[*kiln.Principal]{name: "emails.value", str: userName}
	as["name.givenname"] = scimAttr[*kiln.Principal]{name: "name.givenName", str: func(p *kiln.Principal) string { return p.GivenName }}
	as["name.familyname"] = scimAttr[*kiln.Principal]{name: "name.familyName", str: func(p *kiln.Principal) string { return p.FamilyName }}
	return as
}

var (
	userFilterAttrs  = principalFilterAttrs(true)
	spFilterAttrs    = principalFilterAttrs(false)
	groupFilterAttrs = scimAttrs[*kiln.Group]{
		"id":          {name: "id", str: func(g *kiln.Group) string { return strconv.FormatInt(g.ID, 10) }, exact: true, numeric: true},
		"displayname": {name: "displayName", str: func(g *kiln.Group) string { return g.DisplayName }},
	}
)

// page cuts one page out of a list filtered in memory.
func page[T any](all []T, offset, limit int) []T {
	if offset >= len(all) {
		return nil
	}
	return all[offset:min(len(all), offset+limit)]
}

// listQuery is a list request's filter and order, read once for every
// resource type.
type listQuery struct {
	filter     *filterExpr
	sortBy     string
	descending bool
}

func readListQuery(p params) (listQuery, error) {
	var q listQuery
	f, err := p.get("filter")
	if err != nil {
		return q, err
	}
	if q.filter, err = parseSCIMFilter(f); err != nil {
		return q, err
	}
	if q.sortBy, err = p.get("sortBy"); err != nil {
		return q, err
	}
	order, err := p.get("sortOrder")
	if err != nil {
		return q, err
	}
	switch strings.ToLower(strings.TrimSpace(order)) {
	case "", "ascending":
	case "descending":
		q.descending = true
	default:
		return q, kiln.Errorf(kiln.EInvalid, "sortOrder must be ascending or descending, got %.40q.", order)
	}
	return q, nil
}

// storeEq returns the value of a filter the store can answer itself
// with its paging: one eq on the attribute attr (userName or
// applicationId, which the store matches case-insensitively, as SCIM
// does) with a non-empty value, and no sortBy. Everything else is
// filtered and sorted in memory, which suits a workspace's few thousand
// identities.
func (q listQuery) storeEq(attr string) (string, bool) {
	f := q.filter
	if q.sortBy != "" || f == nil || f.op != "eq" || f.attr != attr || f.value.kind != 's' || f.value.s == "" {
		return "", false
	}
	return f.value.s, true
}

// selectInMemory filters all with the query's filter, sorts it by
// sortBy (ties, and no sortBy, keep the store's id order), and returns
// the page and the number matching.
func selectInMemory[T any](all []T, q listQuery, as scimAttrs[T], resource string, order []string, offset, limit int) ([]T, int, error) {
	match, err := compileFilter(q.filter, as, resource, order)
	if err != nil {
		return nil, 0, err
	}
	all = slices.DeleteFunc(all, func(v T) bool { return !match(v) })
	if q.sortBy != "" {
		cmp, err := sortKey(q.sortBy, as, resource, order)
		if err != nil {
			return nil, 0, err
		}
		if q.descending {
			asc := cmp
			cmp = func(x, y T) int { return asc(y, x) }
		}
		slices.SortStableFunc(all, cmp)
	}
	return page(all, offset, limit), len(all), nil
}

func (s *Server) scimList(k scimKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := readParams(r)
		if err != nil {
			return err
		}
		start, err := p.int("startIndex", 1)
		if err != nil {
			return err
		}
		if start < 1 {
			start = 1 // RFC 7644: a value below 1 is read as 1
		}
		count, err := p.int("count", maxSCIMPageSize)
		if err != nil {
			return err
		}
		if count < 0 {
			count = 0
		}
		count = min(count, maxSCIMPageSize)
		q, err := readListQuery(p)
		if err != nil {
			return err
		}
		// count=0 asks for the total only; the store is still asked for one
		// item because its Limit 0 means "all".
		offset, limit := int(start-1), max(int(count), 1)
		items := []map[string]any{}
		var total int
		if k.group {
			gs, _, err := s.svc.ListGroups(r.Context(), kiln.GroupFilter{})
			if err != nil {
				return err
			}
			if gs, total, err = selectInMemory(gs, q, groupFilterAttrs, k.resource, groupAttrOrder, offset, limit); err != nil {
				return err
			}
			for _, g := range gs {
				items = append(items, projectAttributes(renderGroup(g), p))
			}
		} else {
			as, nameAttr := userFilterAttrs, "username"
			if k.kind == kiln.KindServicePrincipal {
				as, nameAttr = spFilterAttrs, "applicationid"
			}
			var ps []*kiln.Principal
			if name, ok := q.storeEq(nameAttr); ok {
				ps, total, err = s.svc.ListPrincipals(r.Context(), kiln.PrincipalFilter{Kind: k.kind, UserName: name, Offset: offset, Limit: limit})
				if err != nil {
					return err
				}
			} else {
				all, _, err := s.svc.ListPrincipals(r.Context(), kiln.PrincipalFilter{Kind: k.kind})
				if err != nil {
					return err
				}
				if ps, total, err = selectInMemory(all, q, as, k.resource, principalAttrOrder, offset, limit); err != nil {
					return err
				}
			}
			for _, pr := range ps {
				items = append(items, projectAttributes(renderPrincipal(pr), p))
			}
		}
		if count == 0 {
			items = items[:0]
		}
		writeSCIM(w, http.StatusOK, map[string]any{
			"schemas": []string{schemaList}, "totalResults": total, "startIndex": start,
			"itemsPerPage": len(items), "Resources": items,
		})
		return nil
	}
}

func pathID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, kiln.Errorf(kiln.ENotFound, "%s %.40s does not exist.", what, r.PathValue("id"))
	}
	return id, nil
}

func (k scimKind) noun() string {
	switch {
	case k.group:
		return "Group"
	case k.kind == kiln.KindServicePrincipal:
		return "Service principal"
	default:
		return "User"
	}
}

func (s *Server) scimGet(k scimKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := readParams(r)
		if err != nil {
			return err
		}
		id, err := pathID(r, k.noun())
		if err != nil {
			return err
		}
		if k.group {
			g, err := s.svc.GetGroup(r.Context(), id)
			if err != nil {
				return err
			}
			writeSCIM(w, http.StatusOK, projectAttributes(renderGroup(g), p))
			return nil
		}
		pr, err := s.svc.GetPrincipal(r.Context(), k.kind, id)
		if err != nil {
			return err
		}
		writeSCIM(w, http.StatusOK, projectAttributes(renderPrincipal(pr), p))
		return nil
	}
}

// scimResource is the body of SCIM create and replace requests.
type scimResource struct {
	UserName      string `json:"userName"`
	ApplicationID string `json:"applicationId"`
	DisplayName   string `json:"displayName"`
	ExternalID    string `json:"externalId"`
	Name          *struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
	} `json:"name"`
	Active  *flexBool      `json:"active"`
	Groups  []complexValue `json:"groups"`
	Members []complexValue `json:"members"`
	// Entitlements are stored; a PUT replaces them with what it sends.
	Entitlements []complexValue `json:"entitlements"`
	// Roles are accepted and ignored: kiln has no instance profiles.
	Roles []complexValue `json:"roles"`
}

// replaceEntitlements is the change a PUT makes: the body's entitlements
// become the whole set.
func (b *scimResource) replaceEntitlements() service.EntitlementChange {
	return service.EntitlementChange{Replace: true, Set: entitlementNames(b.Entitlements)}
}

// principalAttrs are the attributes of a user or service principal as a
// POST or PUT body sets them, read in one place: an absent name is
// empty, an absent active is true (SCIM's default), groups are ids.
type principalAttrs struct {
	displayName, externalID, givenName, familyName string
	active                                         bool
	groups                                         []int64
}

// principalAttrs reads the body's principal attributes; a group
// reference that is not an id is EInvalid.
func (b *scimResource) principalAttrs() (principalAttrs, error) {
	groups, err := refIDs(b.Groups, "Group")
	if err != nil {
		return principalAttrs{}, err
	}
	a := principalAttrs{displayName: b.DisplayName, externalID: b.ExternalID, active: true, groups: groups}
	if b.Name != nil {
		a.givenName, a.familyName = b.Name.GivenName, b.Name.FamilyName
	}
	if b.Active != nil {
		a.active = bool(*b.Active)
	}
	return a, nil
}

func refIDs(vs []complexValue, what string) ([]int64, error) {
	ids := make([]int64, 0, len(vs))
	for _, v := range vs {
		id, err := strconv.ParseInt(strings.TrimSpace(v.Value), 10, 64)
		if err != nil {
			return nil, kiln.Errorf(kiln.EInvalid, "%s reference %.40q is not a valid id.", what, v.Value)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (s *Server) scimCreate(k scimKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body scimResource
		if err := decodeBody(r, &body, true); err != nil {
			return err
		}
		if k.group {
			members, err := refIDs(body.Members, "Member")
			if err != nil {
				return err
			}
			g, err := s.svc.CreateGroup(r.Context(), body.DisplayName, members, entitlementNames(body.Entitlements)...)
			if err != nil {
				return err
			}
			writeSCIM(w, http.StatusCreated, renderGroup(g))
			return nil
		}
		a, err := body.principalAttrs()
		if err != nil {
			return err
		}
		np := service.NewPrincipal{Kind: k.kind, UserName: body.UserName, DisplayName: a.displayName, ExternalID: a.externalID,
			GivenName: a.givenName, FamilyName: a.familyName, Active: &a.active, Groups: a.groups,
			Entitlements: entitlementNames(body.Entitlements)}
		if k.kind == kiln.KindServicePrincipal {
			np.UserName = body.ApplicationID
		}
		p, err := s.svc.CreatePrincipal(r.Context(), np)
		if err != nil {
			return err
		}
		writeSCIM(w, http.StatusCreated, renderPrincipal(p))
		return nil
	}
}

func (s *Server) scimReplace(k scimKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, k.noun())
		if err != nil {
			return err
		}
		var body scimResource
		if err := decodeBody(r, &body, true); err != nil {
			return err
		}
		if k.group {
			members, err := refIDs(body.Members, "Member")
			if err != nil {
				return err
			}
			name := body.DisplayName
			g, err := s.svc.UpdateGroup(r.Context(), id, service.GroupChange{Rename: &name, ReplaceMembers: true, SetMembers: members,
				Entitlements: body.replaceEntitlements()})
			if err != nil {
				return err
			}
			writeSCIM(w, http.StatusOK, renderGroup(g))
			return nil
		}
		a, err := body.principalAttrs()
		if err != nil {
			return err
		}
		ch := service.PrincipalChange{ReplaceGroup: true, SetGroupsTo: a.groups, Entitlements: body.replaceEntitlements()}
		ch.Update.DisplayName, ch.Update.ExternalID = &a.displayName, &a.externalID
		ch.Update.GivenName, ch.Update.FamilyName = &a.givenName, &a.familyName
		ch.Update.Active = &a.active
		p, err := s.svc.UpdatePrincipal(r.Context(), k.kind, id, ch)
		if err != nil {
			return err
		}
		writeSCIM(w, http.StatusOK, renderPrincipal(p))
		return nil
	}
}

// patchOp is one SCIM PATCH operation.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

var memberFilterRE = regexp.MustCompile(`(?i)^\s*(members|groups)\s*\[\s*value\s+eq\s+"?([0-9]+)"?\s*\]\s*$`)

// entitlementFilterRE is the path of a PATCH removing one entitlement,
// entitlements[value eq "allow-cluster-create"].
var entitlementFilterRE = regexp.MustCompile(`(?i)^\s*entitlements\s*\[\s*value\s+eq\s+["']?([a-z-]+)["']?\s*\]\s*$`)

func (s *Server) scimPatch(k scimKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, k.noun())
		if err != nil {
			return err
		}
		var body struct {
			Operations []patchOp `json:"Operations"`
		}
		if err := decodeBody(r, &body, true); err != nil {
			return err
		}
		if len(body.Operations) == 0 {
			return kiln.Errorf(kiln.EInvalid, "Operations is required: a list of {\"op\", \"path\", \"value\"}.")
		}
		pc, gc, err := parsePatch(k, body.Operations)
		if err != nil {
			return err
		}
		if k.group {
			g, err := s.svc.UpdateGroup(r.Context(), id, gc)
			if err != nil {
				return err
			}
			writeSCIM(w, http.StatusOK, renderGroup(g))
			return nil
		}
		p, err := s.svc.UpdatePrincipal(r.Context(), k.kind, id, pc)
		if err != nil {
			return err
		}
		writeSCIM(w, http.StatusOK, renderPrincipal(p))
		return nil
	}
}

// parsePatch turns SCIM PATCH operations into one change, refusing
// anything it does not understand rather than ignoring it.
func parsePatch(k scimKind, ops []patchOp) (service.PrincipalChange, service.GroupChange, error) {
	var pc service.PrincipalChange
	var gc service.GroupChange
	membersAttr := "groups"
	if k.group {
		membersAttr = "members"
	}
	for _, op := range ops {
		verb := strings.ToLower(op.Op)
		if verb != "add" && verb != "remove" && verb != "replace" {
			return pc, gc, kiln.Errorf(kiln.EInvalid, "Unsupported PATCH op %.20q: use add, remove or replace.", op.Op)
		}
		path := strings.TrimSpace(op.Path)
		if m := memberFilterRE.FindStringSubmatch(path); m != nil && verb == "remove" && strings.EqualFold(m[1], membersAttr) {
			id, _ := strconv.ParseInt(m[2], 10, 64)
			pc.LeaveGroups = append(pc.LeaveGroups, id)
			gc.RemoveMembers = append(gc.RemoveMembers, id)
			continue
		}
		if m := entitlementFilterRE.FindStringSubmatch(path); m != nil && verb == "remove" {
			pc.Entitlements.Remove = append(pc.Entitlements.Remove, m[1])
			gc.Entitlements.Remove = append(gc.Entitlements.Remove, m[1])
			continue
		}
		if path == "" {
			// A value object holding attributes, as for replace without path.
			var attrs map[string]json.RawMessage
			if err := json.Unmarshal(op.Value, &attrs); err != nil {
				return pc, gc, kiln.Errorf(kiln.EInvalid, "A PATCH operation without path needs an object value.")
			}
			for a, v := range attrs {
				if err := applyAttr(k, verb, a, v, membersAttr, &pc, &gc); err != nil {
					return pc, gc, err
				}
			}
			continue
		}
		if err := applyAttr(k, verb, path, op.Value, membersAttr, &pc, &gc); err != nil {
			return pc, gc, err
		}
	}
	return pc, gc, nil
}

func applyAttr(k scimKind, verb, attr string, v json.RawMessage, membersAttr string, pc *service.PrincipalChange, gc *service.GroupChange) error {
	str := func() (string, error) {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", kiln.Errorf(kiln.EInvalid, "The value of %s must be a string.", attr)
		}
		return s, nil
	}
	switch a := strings.ToLower(attr); {
	case a == membersAttr:
		var refs []complexValue
		if err := json.Unmarshal(v, &refs); err != nil {
			return kiln.Errorf(kiln.EInvalid, "The value of %s must be a list of {\"value\": \"<id>\"}.", attr)
		}
		ids, err := refIDs(refs, "Member")
		if err != nil {
			return err
		}
		switch verb {
		case "add":
			pc.JoinGroups, gc.AddMembers = append(pc.JoinGroups, ids...), append(gc.AddMembers, ids...)
		case "remove":
			pc.LeaveGroups, gc.RemoveMembers = append(pc.LeaveGroups, ids...), append(gc.RemoveMembers, ids...)
		default:
			pc.ReplaceGroup, pc.SetGroupsTo = true, ids
			gc.ReplaceMembers, gc.SetMembers = true, ids
		}
	case a == "displayname" && verb != "remove":
		s, err := str()
		if err != nil {
			return err
		}
		pc.Update.DisplayName, gc.Rename = &s, &s
	case a == "entitlements":
		var refs []complexValue
		if verb == "remove" && len(bytes.TrimSpace(v)) == 0 {
			// No value: remove them all.
			pc.Entitlements, gc.Entitlements = service.EntitlementChange{Replace: true}, service.EntitlementChange{Replace: true}
			return nil
		}
		if err := json.Unmarshal(v, &refs); err != nil {
			return kiln.Errorf(kiln.EInvalid, "The value of entitlements must be a list of {\"value\": \"<entitlement>\"}.")
		}
		ch := &pc.Entitlements
		switch names := entitlementNames(refs); verb {
		case "add":
			ch.Add = append(ch.Add, names...)
		case "remove":
			ch.Remove = append(ch.Remove, names...)
		default:
			*ch = service.EntitlementChange{Replace: true, Set: names}
		}
		gc.Entitlements = pc.Entitlements
	case a == "roles":
		// Accepted and ignored, as on create: see scimResource.
	case k.group:
		return kiln.Errorf(kiln.EInvalid, "Attribute %.40q cannot be changed on a group; kiln supports displayName and members.", attr)
	case a == "active" && verb != "remove":
		var b flexBool
		if err := json.Unmarshal(v, &b); err != nil {
			return kiln.Errorf(kiln.EInvalid, "The value of active must be true or false.")
		}
		active := bool(b)
		pc.Update.Active = &active
	case a == "externalid" && verb != "remove":
		s, err := str()
		if err != nil {
			return err
		}
		pc.Update.ExternalID = &s
	case (a == "name.givenname" || a == "name.familyname") && verb != "remove":
		s, err := str()
		if err != nil {
			return err
		}
		if a == "name.givenname" {
			pc.Update.GivenName = &s
		} else {
			pc.Update.FamilyName = &s
		}
	default:
		return kiln.Errorf(kiln.EInvalid, "Unsupported PATCH of %.40q with %s.", attr, verb)
	}
	return nil
}

func (s *Server) scimDelete(k scimKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, k.noun())
		if err != nil {
			return err
		}
		if k.group {
			err = s.svc.DeleteGroup(r.Context(), id)
		} else {
			err = s.svc.DeletePrincipal(r.Context(), k.kind, id)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
