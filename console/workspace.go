package console

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/service"
)

// tokensData is the Tokens tab: every live token of the workspace, the
// console's view of the token-management API.
type tokensData struct {
	Owner  string
	Error  string
	Tokens []tokenRow
	// Pager pages Tokens.
	Pager  *pager
	Owners []*kiln.Principal
	Now    time.Time

	// The leak lookup's answer, or why it failed; Revoke asks before
	// revoking the token it found.
	Lookup      *service.TokenLookup
	LookupError string
	Revoke      confirmation
}

func (c *Console) tokensPage(w http.ResponseWriter, r *http.Request) error {
	return c.renderTokens(w, r, &tokensData{}, http.StatusOK)
}

// lookupToken is the Tokens tab's leak lookup: whose token a pasted value
// is. The value is posted, never put in a URL, and not echoed back.
func (c *Console) lookupToken(w http.ResponseWriter, r *http.Request) error {
	d := &tokensData{}
	l, err := c.svc.LookupToken(r.Context(), r.PostFormValue("token_value"), r.PostFormValue("revoke") == "1")
	status := http.StatusOK
	switch code := kiln.ErrorCode(err); {
	case err == nil:
		d.Lookup = l
		d.Revoke = revokeConfirmation("/admin/tokens/"+l.Token.ID+"/revoke", "/admin/tokens", l.Token, true)
	case code == kiln.EInvalid || code == kiln.ENotFound:
		d.LookupError, status = kiln.ErrorMessage(err), api.ErrorStatus(w.Header(), err)
	default:
		return err
	}
	return c.renderTokens(w, r, d, status)
}

// renderTokens renders the Tokens tab, filtered by the owner in the query.
func (c *Console) renderTokens(w http.ResponseWriter, r *http.Request, d *tokensData, status int) error {
	ctx := r.Context()
	d.Owner, d.Now = truncate(strings.TrimSpace(r.URL.Query().Get("owner")), 256), c.now()
	var f service.TokenListFilter
	if d.Owner != "" {
		p, err := c.svc.PrincipalByName(ctx, d.Owner)
		switch {
		case kiln.IsCode(err, kiln.ENotFound):
			d.Error = "There is no user or service principal named " + d.Owner + "."
			status = http.StatusNotFound
		case err != nil:
			return err
		default:
			f.OwnerID = p.ID
		}
	}
	if d.Error == "" {
		// One page of the tokens (paging.go); a page past the end is the
		// last.
		pr := readPage(r.URL.Query())
		toks, total, err := c.svc.ListTokensPage(ctx, f, pr.Offset(), pr.Size)
		if err != nil {
			return err
		}
		if pr.clamp(total) {
			if toks, total, err = c.svc.ListTokensPage(ctx, f, pr.Offset(), pr.Size); err != nil {
				return err
			}
		}
		keep := url.Values{}
		if d.Owner != "" {
			keep.Set("owner", d.Owner)
		}
		d.Pager = newPager("tokens", "/admin/tokens", keep, pr, total, len(toks))
		back := "/admin/tokens"
		if d.Owner != "" {
			back += "?" + url.Values{"owner": {d.Owner}}.Encode()
		}
		for _, t := range toks {
			d.Tokens = append(d.Tokens, tokenRow{
				Token:       t,
				ExpiresSoon: !t.Expires.IsZero() && t.Expires.Sub(d.Now) < expiresSoon,
				Revoke:      revokeConfirmation("/admin/tokens/"+t.ID+"/revoke", back, t, true),
			})
		}
	}
	owners, _, err := c.svc.ListPrincipals(ctx, kiln.PrincipalFilter{})
	if err != nil {
		return err
	}
	d.Owners = owners
	c.render(w, r, status, "tokens", &page{Title: "Tokens", Section: adminSection, Tab: "/admin/tokens", Data: d})
	return nil
}

func (c *Console) confirmRevokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := c.svc.GetToken(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	c.showConfirmation(w, r, adminSection, "/admin/tokens", revokeConfirmation("/admin/tokens/"+t.ID+"/revoke", "/admin/tokens", t, true))
	return nil
}

func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := c.svc.RevokeToken(r.Context(), r.PathValue("id")); err != nil {
		if kiln.IsCode(err, kiln.ENotFound) {
			c.redirectWith(w, r, "/admin/tokens", "error", "This token does not exist or is already revoked.")
			return nil
		}
		return err
	}
	c.redirectWith(w, r, "/admin/tokens", "ok", "The token has been revoked.")
	return nil
}

// auditActions are the events the Audit Log can filter by.
var auditActions = []string{
	kiln.AuditLogin, kiln.AuditLoginFailed,
	kiln.AuditTokenCreate, kiln.AuditTokenRevoke, kiln.AuditTokenUpdate, kiln.AuditTokenDenied,
	kiln.AuditTokenRotate, kiln.AuditTokenNewAddress, kiln.AuditTokenLookup, kiln.AuditTokenExpiryShortened,
	kiln.AuditWebhookCreate, kiln.AuditWebhookDelete,
	kiln.AuditConfUpdate, kiln.AuditPermissionUpdate,
	kiln.AuditPrincipalCreate, kiln.AuditPrincipalUpdate, kiln.AuditPrincipalDelete,
	kiln.AuditGroupCreate, kiln.AuditGroupUpdate, kiln.AuditGroupDelete,
	kiln.AuditWorkspaceInit,
}

// auditPageSize is how many events one Audit Log page shows.
const auditPageSize = 50

type auditData struct {
	Actions []string
	Event   string
	Actor   string
	From    string
	To      string
	Error   string
	Events  []auditRow
	// Older is the link to the next page of older events, if any.
	Older string
}

type auditRow struct {
	kiln.AuditEvent
	Details []field
}

// datetimeLocal is the format of <input type="datetime-local">; the
// console reads and shows times in UTC.
const datetimeLocal = "2006-01-02T15:04"

func parseLocal(v string) (time.Time, bool) {
	for _, layout := range []string{datetimeLocal, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := &auditData{
		Actions: auditActions,
		Event:   q.Get("event"), Actor: truncate(strings.TrimSpace(q.Get("actor")), 256),
		From: truncate(strings.TrimSpace(q.Get("from")), 32), To: truncate(strings.TrimSpace(q.Get("to")), 32),
	}
	f := kiln.AuditFilter{ActorName: d.Actor, Limit: auditPageSize + 1}
	if d.Event != "" {
		known := false
		for _, a := range auditActions {
			known = known || a == d.Event
		}
		if !known {
			d.Error = "Choose an event from the list."
		}
		f.Action = d.Event
	}
	if d.From != "" {
		t, ok := parseLocal(d.From)
		if !ok {
			d.Error = "From must be a date and time, such as 2026-03-01T09:00."
		}
		f.Since = t
	}
	if d.To != "" {
		t, ok := parseLocal(d.To)
		if !ok {
			d.Error = "To must be a date and time, such as 2026-03-01T17:00."
		}
		// The minute typed is included.
		f.Until = t.Add(time.Minute)
	}
	if before := q.Get("before"); before != "" {
		id, err := strconv.ParseInt(before, 10, 64)
		if err != nil || id <= 0 {
			d.Error = "The page of older events is not valid; start again from the newest."
		}
		f.BeforeID = id
	}
	status := http.StatusOK
	if d.Error != "" {
		status = http.StatusBadRequest
	} else {
		evs, err := c.svc.ListAudit(r.Context(), f)
		if err != nil {
			return err
		}
		if len(evs) > auditPageSize {
			evs = evs[:auditPageSize]
			older := url.Values{}
			for k, v := range map[string]string{"event": d.Event, "actor": d.Actor, "from": d.From, "to": d.To} {
				if v != "" {
					older.Set(k, v)
				}
			}
			older.Set("before", strconv.FormatInt(evs[len(evs)-1].ID, 10))
			d.Older = "/admin/audit?" + older.Encode()
		}
		for _, ev := range evs {
			row := auditRow{AuditEvent: ev}
			keys := make([]string, 0, len(ev.Detail))
			for k := range ev.Detail {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				row.Details = append(row.Details, field{k, ev.Detail[k]})
			}
			d.Events = append(d.Events, row)
		}
	}
	c.render(w, r, status, "audit", &page{Title: "Audit Log", Section: adminSection, Tab: "/admin/audit", Data: d})
	return nil
}
