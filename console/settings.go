package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/api"
	"github.com/kiln-dev/kiln/auth"
	"github.com/kiln-dev/kiln/service"
)

const (
	// expiresSoon highlights tokens that expire within a week, so their
	// owners rotate them before a pipeline breaks.
	expiresSoon = 7 * 24 * time.Hour
	// noCapMaxDays is the longest lifetime when the workspace sets no
	// maximum: the service refuses anything above a hundred years.
	noCapMaxDays = 100 * 365
)

// confirmation describes an action that asks first. The same values feed
// the <dialog> (with scripts) and the confirmation page (without).
type confirmation struct {
	// Label is the text of the button that asks: "Revoke", "Enable".
	Label string
	// Name, when set, is the button's accessible name where Label alone
	// is ambiguous, as in a list of rows ("Delete report.csv").
	Name  string
	Title string
	Text  string
	// Action is the path both the confirmation page (GET) and the action
	// (POST) live at; Fields are its query parameters.
	Action string
	Fields []field
	Danger bool
	// Back is where Cancel returns to on the confirmation page.
	Back string
}

type field struct{ Name, Value string }

// ActionURL is Action with Fields as a query string: where the Confirm
// form posts.
func (cf confirmation) ActionURL() string {
	if len(cf.Fields) == 0 {
		return cf.Action
	}
	q := url.Values{}
	for _, f := range cf.Fields {
		q.Add(f.Name, f.Value)
	}
	return cf.Action + "?" + q.Encode()
}

// showConfirmation renders the confirmation page, the no-script path.
func (c *Console) showConfirmation(w http.ResponseWriter, r *http.Request, section, tab string, cf confirmation) {
	c.render(w, r, http.StatusOK, "confirm", &page{Title: cf.Title, Section: section, Tab: tab, Data: cf})
}

// tokenForm is the Generate New Token form, with what the user typed and
// what was wrong with it.
type tokenForm struct {
	Comment       string
	Lifetime      string
	MaxDays       int
	Capped        bool
	CommentError  string
	LifetimeError string
	// Scopes is the optional scopes field as typed; ScopeNames lists the
	// names it takes, for its help text.
	Scopes      string
	ScopesError string
	ScopeNames  string
	// Error is a problem with the request as a whole (tokens disabled,
	// quota).
	Error string
}

// Invalid reports whether any field of the form was refused.
func (f tokenForm) Invalid() bool {
	return f.CommentError != "" || f.LifetimeError != "" || f.ScopesError != "" || f.Error != ""
}

func newTokenForm(policy service.TokenPolicy) tokenForm {
	f := tokenForm{Lifetime: strconv.Itoa(policy.DefaultLifetimeDays), MaxDays: policy.MaxLifetimeDays, Capped: policy.MaxLifetimeDays > 0,
		ScopeNames: strings.Join(kiln.APIScopes, ", ")}
	if !f.Capped {
		f.MaxDays = noCapMaxDays
	}
	return f
}

// parseTokenForm validates the Generate New Token form. The console asks
// for more than the API does (a comment is required: a token nobody can
// identify later cannot be safely revoked), and says what is wrong in
// terms of the form's own labels.
func parseTokenForm(r *http.Request, policy service.TokenPolicy) (service.CreateTokenParams, tokenForm) {
	f := newTokenForm(policy)
	f.Comment = strings.TrimSpace(r.PostFormValue("comment"))
	f.Lifetime = strings.TrimSpace(r.PostFormValue("lifetime_days"))
	var p service.CreateTokenParams

	switch {
	case f.Comment == "":
		f.CommentError = "Enter a comment that says what the token is for, such as the script or tool that will use it."
	case len(f.Comment) > kiln.MaxCommentLength:
		f.CommentError = fmt.Sprintf("The comment is too long: keep it to %d characters or fewer.", kiln.MaxCommentLength)
		f.Comment = truncate(f.Comment, 2*kiln.MaxCommentLength)
	case !utf8.ValidString(f.Comment):
		f.CommentError = "The comment contains characters that are not valid text."
		f.Comment = strings.ToValidUTF8(f.Comment, "")
	case strings.IndexFunc(f.Comment, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		f.CommentError = "The comment must not contain control characters such as tabs or line breaks."
	default:
		p.Comment = f.Comment
	}

	limit := fmt.Sprintf("from 1 to %d", f.MaxDays)
	n, err := strconv.Atoi(f.Lifetime)
	switch {
	case f.Lifetime == "":
		f.LifetimeError = "Enter the lifetime in days, " + limit + "."
	case err != nil:
		f.LifetimeError = "Lifetime (days) must be a whole number of days, " + limit + "."
		f.Lifetime = truncate(f.Lifetime, 32)
	case n < 1:
		f.LifetimeError = "Lifetime (days) must be at least 1 day."
	case n > f.MaxDays && f.Capped:
		f.LifetimeError = fmt.Sprintf("Lifetime (days) can be at most %d, the maximum set by your workspace admin.", f.MaxDays)
	case n > f.MaxDays:
		f.LifetimeError = fmt.Sprintf("Lifetime (days) can be at most %d.", f.MaxDays)
	default:
		d := time.Duration(n) * 24 * time.Hour
		p.Lifetime = &d
	}

	// Scopes, space- or comma-separated; empty is every API the user may
	// use.
	f.Scopes = truncate(strings.TrimSpace(r.PostFormValue("scopes")), 512)
	names := strings.FieldsFunc(f.Scopes, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if scopes, err := kiln.NormalizeScopes(names); err != nil {
		f.ScopesError = kiln.ErrorMessage(err)
	} else {
		p.Scopes = scopes
	}
	return p, f
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

type settingsData struct {
	Policy service.TokenPolicy
	// CanUse is whether the user has CAN_USE (admins always do).
	CanUse bool
	Tokens []tokenRow
	// Pager pages Tokens.
	Pager *pager
	Form  tokenForm
	// Created is the token just generated, set only in the response to
	// the Generate request, the one place its value ever appears.
	Created *createdToken
	Now     time.Time
}

type tokenRow struct {
	*kiln.Token
	ExpiresSoon bool
	Revoke      confirmation
	Rotate      confirmation
}

type createdToken struct {
	Value   string
	Comment string
	Expires time.Time
	// Replaced is set when the token replaces a rotated one: the old
	// token's end.
	Replaced time.Time
}

// endingToken is one line of the banner of tokens that end soon.
type endingToken struct {
	service.TokenEnd
	// Inactivity: the token ends only if it stays unused.
	Inactivity bool
	Rotate     confirmation
}

// endingTokens lists the user's tokens that end within the workspace's
// warning window, for the banner. A failure only hides the banner: it
// must not break the page it sits on.
func (c *Console) endingTokens(r *http.Request) []endingToken {
	ends, err := c.svc.EndingTokens(r.Context())
	if err != nil {
		if !kiln.IsCode(err, kiln.EUnauthenticated) {
			c.log.Warn("console: listing tokens that end soon", "err", err)
		}
		return []endingToken{}
	}
	out := make([]endingToken, 0, len(ends))
	for _, e := range ends {
		out = append(out, endingToken{TokenEnd: e, Inactivity: e.Reason == service.EndInactivity, Rotate: rotateConfirmation(e.Token)})
	}
	return out
}

// rotateConfirmation asks before rotating one of the user's tokens.
func rotateConfirmation(t *kiln.Token) confirmation {
	name := "this token"
	if t.Comment != "" {
		name = "the token “" + t.Comment + "”"
	}
	return confirmation{
		Label: "Rotate", Title: "Rotate token?", Action: "/settings/tokens/" + t.ID + "/rotate", Back: "/settings",
		Text: "Replace " + name + " with a new one of the same comment and lifetime? The new token is shown once. The old one keeps working for one more day, so you can update every place that uses it.",
	}
}

func (c *Console) tokenPolicy(r *http.Request) (service.TokenPolicy, bool, error) {
	u := currentUser(r)
	policy, err := c.svc.TokenPolicy(r.Context())
	if err != nil {
		return policy, false, err
	}
	_, canUse := c.index.Principal(u.ID)
	return policy, canUse, nil
}

func (c *Console) settingsData(r *http.Request) (*settingsData, error) {
	policy, canUse, err := c.tokenPolicy(r)
	if err != nil {
		return nil, err
	}
	// One page of the tokens (paging.go); a page past the end is the last.
	pr := readPage(r.URL.Query())
	toks, total, err := c.svc.ListOwnTokensPage(r.Context(), pr.Offset(), pr.Size)
	if err != nil {
		return nil, err
	}
	if pr.clamp(total) {
		if toks, total, err = c.svc.ListOwnTokensPage(r.Context(), pr.Offset(), pr.Size); err != nil {
			return nil, err
		}
	}
	now := c.now()
	d := &settingsData{Policy: policy, CanUse: canUse, Form: newTokenForm(policy), Now: now,
		Pager: newPager("tokens", "/settings", nil, pr, total, len(toks))}
	for _, t := range toks {
		d.Tokens = append(d.Tokens, tokenRow{
			Token:       t,
			ExpiresSoon: !t.Expires.IsZero() && t.Expires.Sub(now) < expiresSoon,
			Revoke:      revokeConfirmation("/settings/tokens/"+t.ID+"/revoke", "/settings", t, false),
			Rotate:      rotateConfirmation(t),
		})
	}
	return d, nil
}

func revokeConfirmation(action, back string, t *kiln.Token, admin bool) confirmation {
	name := "this token"
	if t.Comment != "" {
		name = "the token “" + t.Comment + "”"
	}
	if admin {
		name += " of " + t.OwnerName
	}
	return confirmation{
		Label: "Revoke", Title: "Revoke token?", Action: action, Back: back, Danger: true,
		Text: "Revoke " + name + "? Scripts and tools that use it stop working at once. This cannot be undone.",
	}
}

// settingsPage is User Settings, Access Tokens tab.
func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request) error {
	d, err := c.settingsData(r)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "settings", &page{Title: "Access Tokens", Section: "User Settings", Tab: "/settings", Data: d})
	return nil
}

// newTokenPage is the Generate New Token form as a page, for browsers
// without scripts (with scripts, the same form opens in a dialog).
func (c *Console) newTokenPage(w http.ResponseWriter, r *http.Request) error {
	policy, canUse, err := c.tokenPolicy(r)
	if err != nil {
		return err
	}
	if !policy.Enabled || !canUse {
		http.Redirect(w, r, "/settings", http.StatusSeeOther)
		return nil
	}
	c.render(w, r, http.StatusOK, "token_new", &page{Title: "Generate New Token", Section: "User Settings", Tab: "/settings", Data: newTokenForm(policy)})
	return nil
}

// createToken generates a token. On success it renders the token straight
// from this POST, with Cache-Control: no-store (set for every page): the
// value is never put in a URL, a cookie, a log line or the store, so once
// the user presses Done it exists nowhere in kiln. Reloading would post
// again and make another token, never show this one again.
func (c *Console) createToken(w http.ResponseWriter, r *http.Request) error {
	policy, _, err := c.tokenPolicy(r)
	if err != nil {
		return err
	}
	params, form := parseTokenForm(r, policy)
	if form.Invalid() {
		c.render(w, r, http.StatusBadRequest, "token_new", &page{Title: "Generate New Token", Section: "User Settings", Tab: "/settings", Data: form})
		return nil
	}
	nt, err := c.svc.CreateToken(r.Context(), params)
	if err != nil {
		switch kiln.ErrorCode(err) {
		case kiln.EInvalid, kiln.EDisabled, kiln.EPermission, kiln.EQuota:
			form.Error = kiln.ErrorMessage(err)
			c.render(w, r, api.ErrorStatus(w.Header(), err), "token_new", &page{Title: "Generate New Token", Section: "User Settings", Tab: "/settings", Data: form})
			return nil
		}
		return err
	}
	d, err := c.settingsData(r)
	if err != nil {
		return err
	}
	d.Created = &createdToken{Value: nt.Value, Comment: nt.Info.Comment, Expires: nt.Info.Expires}
	c.render(w, r, http.StatusOK, "settings", &page{Title: "Access Tokens", Section: "User Settings", Tab: "/settings", Data: d})
	return nil
}

// ownToken finds one of the user's live tokens.
func (c *Console) ownToken(r *http.Request, id string) (*kiln.Token, error) {
	toks, err := c.svc.ListOwnTokens(r.Context())
	if err != nil {
		return nil, err
	}
	for _, t := range toks {
		if t.ID == id {
			return t, nil
		}
	}
	return nil, kiln.Errorf(kiln.ENotFound, "This token does not exist or is already revoked.")
}

func (c *Console) confirmRevokeOwnToken(w http.ResponseWriter, r *http.Request) error {
	t, err := c.ownToken(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	c.showConfirmation(w, r, "User Settings", "/settings", revokeConfirmation("/settings/tokens/"+t.ID+"/revoke", "/settings", t, false))
	return nil
}

func (c *Console) revokeOwnToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := c.svc.RevokeOwnToken(r.Context(), id); err != nil {
		if kiln.IsCode(err, kiln.ENotFound) {
			c.redirectWith(w, r, "/settings", "error", "This token does not exist or is already revoked.")
			return nil
		}
		return err
	}
	c.redirectWith(w, r, "/settings", "ok", "The token has been revoked.")
	return nil
}

func (c *Console) confirmRotateOwnToken(w http.ResponseWriter, r *http.Request) error {
	t, err := c.ownToken(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	c.showConfirmation(w, r, "User Settings", "/settings", rotateConfirmation(t))
	return nil
}

// rotateOwnToken rotates one of the user's tokens with the default grace
// period and shows the new value once, from this POST, as createToken
// does.
func (c *Console) rotateOwnToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	old, err := c.ownToken(r, id)
	if err != nil {
		c.redirectWith(w, r, "/settings", "error", kiln.ErrorMessage(err))
		return nil
	}
	nt, err := c.svc.RotateToken(r.Context(), old.ID, nil)
	if err != nil {
		if code := kiln.ErrorCode(err); code == kiln.EInvalid || code == kiln.ENotFound || code == kiln.EQuota || code == kiln.EDisabled || code == kiln.EPermission {
			c.redirectWith(w, r, "/settings", "error", kiln.ErrorMessage(err))
			return nil
		}
		return err
	}
	d, err := c.settingsData(r)
	if err != nil {
		return err
	}
	d.Created = &createdToken{Value: nt.Value, Comment: nt.Info.Comment, Expires: nt.Info.Expires, Replaced: nt.Replaced.Expires}
	c.render(w, r, http.StatusOK, "settings", &page{Title: "Access Tokens", Section: "User Settings", Tab: "/settings", Data: d})
	return nil
}

type passwordForm struct {
	Error string
}

// passwordPage is User Settings, Password tab.
func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request) error {
	c.render(w, r, http.StatusOK, "password", &page{Title: "Password", Section: "User Settings", Tab: "/settings/password", Data: passwordForm{}})
	return nil
}

// changePassword changes the user's own password. Every session of the
// user ends (their cookies predate the change); this browser gets a fresh
// one so the user stays signed in here.
func (c *Console) changePassword(w http.ResponseWriter, r *http.Request) error {
	u := currentUser(r)
	current, next, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("confirm")
	fail := func(status int, msg string) error {
		c.render(w, r, status, "password", &page{Title: "Password", Section: "User Settings", Tab: "/settings/password", Data: passwordForm{Error: msg}})
		return nil
	}
	addr := c.clientAddr(r)
	switch {
	case current == "" || next == "":
		return fail(http.StatusBadRequest, "Enter your current password and a new one.")
	case c.guard.blocked(addr, u.UserName):
		return fail(http.StatusTooManyRequests, "Too many failed attempts. Wait a minute, then try again.")
	}
	match, err := auth.VerifyPassword(r.Context(), u.PasswordHash, current)
	if err != nil {
		return err // EUnavailable: the request ended waiting for a hashing slot
	}
	switch {
	case !match:
		c.guard.failed(addr, u.UserName)
		return fail(http.StatusBadRequest, "Your current password is not correct.")
	case next != again:
		return fail(http.StatusBadRequest, "The new passwords do not match.")
	case next == current:
		return fail(http.StatusBadRequest, "Choose a new password that is different from the current one.")
	}
	if err := auth.CheckPasswordPolicy(next); err != nil {
		return fail(http.StatusBadRequest, "New password: "+err.Error()+".")
	}
	if err := c.svc.SetPassword(r.Context(), u.ID, next); err != nil {
		if kiln.IsCode(err, kiln.EInvalid) {
			return fail(http.StatusBadRequest, kiln.ErrorMessage(err))
		}
		return err
	}
	now := c.now()
	c.setSession(w, r, session{UserID: u.ID, Issued: now, Active: now})
	c.redirectWith(w, r, "/settings/password", "ok", "Your password has been changed. You were signed out everywhere else.")
	return nil
}
