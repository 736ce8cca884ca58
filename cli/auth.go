package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/client"
)

func (e *clientEnv) authCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Sign in with OAuth, or check the configured credentials",
		Example: `  kiln auth login --host https://kiln.example.com
  kiln auth describe
  kiln auth describe --profile ci --output json`,
	}
	e.addFlags(cmd)
	describe := &cobra.Command{
		Use:   "describe",
		Short: "Show who you are, on which host and profile, and whether the token works",
		Long: `Show the host and profile in use and where each setting came from, who the
token signs in as, whether it works, and when it expires.

Exits 0 when the token works and 3 when it does not, so scripts can test it:
  kiln auth describe >/dev/null || kiln configure --token`,
		Example: `  kiln auth describe
  kiln auth describe -p ci -o json | jq .token.expiry_time`,
		Args: cobra.NoArgs,
		RunE: e.run(e.describe),
	}
	cmd.AddCommand(describe, e.authLoginCmd())
	return cmd
}

// authDescription is the JSON form of auth describe.
type authDescription struct {
	Host        string            `json:"host"`
	HostSource  string            `json:"host_source"`
	Profile     string            `json:"profile,omitempty"`
	ConfigFile  string            `json:"config_file"`
	TokenSource string            `json:"token_source"`
	AuthType    string            `json:"auth_type"`
	Valid       bool              `json:"valid"`
	User        *client.Principal `json:"user,omitempty"`
	WorkspaceID string            `json:"workspace_id,omitempty"`
	Token       *client.TokenInfo `json:"token,omitempty"`
	Error       string            `json:"error,omitempty"`
	// Status says in words whether the token works, does not, or could
	// not be tested (an unreachable host is no verdict on the token).
	Status string `json:"status"`
	Admin  bool   `json:"admin"`
}

func (e *clientEnv) describe(ctx context.Context, c *client.Client, _ []string) error {
	d := authDescription{
		Host: e.cfg.Host, HostSource: e.cfg.HostSource, Profile: e.cfg.Profile, ConfigFile: e.cfg.ConfigFile,
		TokenSource: e.cfg.TokenSource, AuthType: "pat",
	}
	if e.cfg.AuthType != "" {
		d.AuthType = e.cfg.AuthType
	}
	me, err := c.Me(ctx)
	if err == nil {
		d.Valid, d.User, d.WorkspaceID, d.Admin = true, &me.Principal, me.WorkspaceID, me.IsAdmin()
		if e.cfg.AuthType == "" {
			d.Token, err = e.learnCurrentToken(ctx, c)
		}
	}
	err = e.explain(err)
	if err != nil {
		d.Valid, d.Error = false, err.Error()
	}
	d.Status = describeStatus(&d, err)
	p := e.printer()
	if p.json {
		if jerr := p.JSON(d); jerr != nil {
			return jerr
		}
		return err
	}
	host := d.Host + " (from " + d.HostSource + ")"
	if d.HostSource != client.EnvHost {
		host = fmt.Sprintf("%s (profile %q in %s)", d.Host, d.Profile, client.DisplayPath(d.ConfigFile))
	}
	credential := "personal access token from " + e.cfg.TokenOrigin()
	if e.cfg.AuthType == client.AuthTypeU2M {
		credential = "OAuth access token from " + e.cfg.TokenOrigin() + " (refreshed when it is about to expire)"
	}
	pairs := [][2]string{{"Host", host}, {"Token", credential}}
	if d.User != nil {
		who := d.User.Login()
		var notes []string
		if d.User.ID != "" {
			notes = append(notes, "id "+d.User.ID)
		}
		if d.Admin {
			notes = append(notes, "workspace admin")
		}
		if len(notes) > 0 {
			who += " (" + strings.Join(notes, ", ") + ")"
		}
		pairs = append(pairs, [2]string{"User", who})
		if d.WorkspaceID != "" {
			pairs = append(pairs, [2]string{"Workspace", d.WorkspaceID})
		}
	}
	if d.Token != nil {
		pairs = append(pairs, [2]string{"Token ID", d.Token.TokenID}, [2]string{"Expires", expiryPhrase(d.Token, p.now)})
	} else if d.Valid && e.cfg.AuthType == "" {
		pairs = append(pairs, [2]string{"Expires", "unknown (the server does not say which token is in use)"})
	}
	pairs = append(pairs, [2]string{"Status", d.Status})
	p.KV(pairs)
	return err
}

// describeStatus is the Status line of describe. Only a refusal of the
// token says the token does not work: when the host could not be reached,
// or answered in a way that tested nothing, saying so would send the user
// off to replace a token that may be fine.
func describeStatus(d *authDescription, err error) string {
	var (
		te  *client.TransportError
		ue  *client.UnexpectedResponseError
		ae  authError
		pe  permissionError
		api *client.APIError
	)
	switch {
	case d.Valid:
		return "the token works"
	case d.User != nil:
		return "the token works, but the server did not say which token it is (see below)"
	case errors.As(err, &te):
		return "not tested: the host is unreachable (see below)"
	case errors.As(err, &ue):
		return "not tested: the host does not answer like a kiln server (see below)"
	case errors.As(err, &ae):
		return "the token does not work (see below)"
	case errors.As(err, &pe):
		return "the token is valid but may not be used (see below)"
	case errors.As(err, &api) && api.StatusCode >= 500:
		return "not tested: the server failed (see below)"
	default:
		return "not tested (see below)"
	}
}

// expiryPhrase is the Expires line of describe: "in 90 days (2026-…)".
func expiryPhrase(t *client.TokenInfo, now time.Time) string {
	exp, ok := t.Expires()
	if !ok {
		return "never"
	}
	return relative(exp, now) + " (" + stamp(exp) + ")"
}

func (e *clientEnv) currentUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "current-user",
		Short:   "Show the signed-in identity",
		Example: "  kiln current-user me",
	}
	e.addFlags(cmd)
	me := &cobra.Command{
		Use:   "me",
		Short: "Show the user or service principal the token signs in as",
		Example: `  kiln current-user me
  kiln current-user me -o json | jq -r .userName`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			me, err := c.Me(ctx)
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(me.Principal)
			}
			p.KV(principalDetails(&me.Principal))
			return nil
		}),
	}
	cmd.AddCommand(me)
	return cmd
}

// principalDetails lists a user or service principal for people.
func principalDetails(pr *client.Principal) [][2]string {
	pairs := [][2]string{{"ID", pr.ID}}
	if pr.ApplicationID != "" {
		pairs = append(pairs, [2]string{"Application ID", pr.ApplicationID})
	} else {
		pairs = append(pairs, [2]string{"User name", pr.UserName})
	}
	pairs = append(pairs, [2]string{"Display name", pr.DisplayName}, [2]string{"Active", yesNo(pr.IsActive())})
	var groups []string
	for _, g := range pr.Groups {
		groups = append(groups, g.Display)
	}
	pairs = append(pairs, [2]string{"Groups", strings.Join(groups, ", ")})
	return pairs
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
