package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kiln-dev/kiln/client"
	"github.com/kiln-dev/kiln/service"
)

func (e *clientEnv) tokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke your personal access tokens",
		Example: `  kiln tokens create --comment "CI pipeline" --lifetime 90d
  kiln tokens list
  kiln tokens revoke 5f2c0e3b9d8a`,
	}
	e.addFlags(cmd)

	var (
		comment, lifetime string
		lifetimeSeconds   int64
		scopes            []string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a personal access token",
		Long: `Create a personal access token that acts as you.

The token is shown once. On a terminal it is printed with a reminder; when
standard output is not a terminal only the token is printed, so that it can be
captured: TOKEN=$(kiln tokens create ...). Details go to standard error. With
--output json the whole answer (token_value and token_info) is printed.

Without --lifetime the workspace default applies (maxTokenLifetimeDays caps it).`,
		Example: `  kiln tokens create --comment "CI pipeline" --lifetime 90d
  TOKEN=$(kiln tokens create --comment nightly --lifetime-seconds 3600)
  kiln tokens create --comment ci -o json | jq -r .token_value`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			req := client.CreateTokenRequest{Comment: comment, Scopes: scopes}
			switch {
			case lifetime != "" && lifetimeSeconds != 0:
				return usageError{errors.New("give --lifetime or --lifetime-seconds, not both")}
			case lifetime != "":
				d, err := service.ParseLifetime(lifetime)
				if err != nil {
					return usageError{fmt.Errorf("--lifetime: %v", err)}
				}
				req.LifetimeSeconds = int64(d.Seconds())
			case lifetimeSeconds < 0:
				return usageError{errors.New("--lifetime-seconds must be a positive number of seconds")}
			default:
				req.LifetimeSeconds = lifetimeSeconds
			}
			resp, err := c.CreateToken(ctx, req)
			if err != nil {
				return err
			}
			e.memo.remember(resp.TokenValue, c.Host(), &resp.TokenInfo, e.now())
			p := e.printer()
			switch {
			case p.json:
				return p.JSON(resp)
			case p.tty:
				fmt.Fprintf(p.w, "Created token %s%s, which %s.\n\n    %s\n\nCopy it now: it is shown only once.\n",
					resp.TokenInfo.TokenID, quotedComment(resp.TokenInfo.Comment), expirySentence(&resp.TokenInfo, p.now), resp.TokenValue)
			default:
				fmt.Fprintf(e.stdio.Err, "Created token %s%s, which %s.\n",
					resp.TokenInfo.TokenID, quotedComment(resp.TokenInfo.Comment), expirySentence(&resp.TokenInfo, p.now))
				fmt.Fprintln(p.w, resp.TokenValue)
			}
			return nil
		}),
	}
	create.Flags().StringVar(&comment, "comment", "", "what the token is for")
	create.Flags().StringVar(&lifetime, "lifetime", "", "lifetime such as 90d, 12h, 30m or 3600s")
	create.Flags().Int64Var(&lifetimeSeconds, "lifetime-seconds", 0, "lifetime in seconds (the Databricks CLI's flag)")
	create.Flags().StringArrayVar(&scopes, "scope", nil, "restrict the token to an API scope such as jobs, jobs:read or sql (repeatable; default: full access)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List your valid tokens",
		Example: `  kiln tokens list
  kiln tokens list -o json | jq -r '.[].token_id'`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			toks, err := c.ListTokens(ctx)
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(toks)
			}
			if len(toks) == 0 {
				fmt.Fprintln(e.stdio.Err, "You have no valid tokens. Create one with `kiln tokens create`.")
				return nil
			}
			rows := make([][]string, 0, len(toks))
			for i := range toks {
				t := &toks[i]
				rows = append(rows, []string{p.id(t.TokenID), t.Comment, relative(t.Created(), p.now), expiry(t, p.now)})
			}
			p.Table([]string{"ID", "COMMENT", "CREATED", "EXPIRES"}, rows)
			return nil
		}),
	}

	revoke := &cobra.Command{
		Use:     "revoke TOKEN_ID",
		Aliases: []string{"delete"},
		Short:   "Revoke one of your tokens",
		Long: `Revoke one of your tokens. TOKEN_ID may be any unique prefix of the id, as
shown by kiln tokens list. The token stops working on the next request.`,
		Example: `  kiln tokens revoke 5f2c0e3b9d8a
  kiln tokens delete 5f2c0e3b9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b`,
		Args: exactArgs(1, "TOKEN_ID"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id, err := resolveTokenID(args[0], func() ([]client.TokenInfo, error) { return c.ListTokens(ctx) })
			if err != nil {
				return err
			}
			if err := c.DeleteToken(ctx, id); err != nil {
				return err
			}
			return e.revoked(id)
		}),
	}
	var grace string
	rotate := &cobra.Command{
		Use:   "rotate TOKEN_ID|current",
		Short: "Replace one of your tokens without downtime",
		Long: `Replace one of your tokens with a new one of the same comment and lifetime.
The old token keeps working for the grace period (--grace; default one day,
at most the workspace's kilnMaxTokenRotationGraceDays), so that every place
that holds it can be updated before it stops. "current" names the token this
command authenticates with. The new token is shown once, as by create.`,
		Example: `  kiln tokens rotate 5f2c0e3b9d8a --grace 24h
  kiln tokens rotate current --grace 2h
  NEW=$(kiln tokens rotate current --grace 0s)`,
		Args: exactArgs(1, "TOKEN_ID"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			var g *time.Duration
			if grace != "" {
				d, err := parseGrace(grace)
				if err != nil {
					return usageError{fmt.Errorf("--grace: %v", err)}
				}
				g = &d
			}
			id := args[0]
			if id == "current" {
				cur, err := c.CurrentToken(ctx)
				if err != nil {
					return err
				}
				id = cur.TokenID
			}
			id, err := resolveTokenID(id, func() ([]client.TokenInfo, error) { return c.ListTokens(ctx) })
			if err != nil {
				return err
			}
			resp, err := c.RotateToken(ctx, id, g)
			if err != nil {
				return err
			}
			e.memo.remember(resp.TokenValue, c.Host(), &resp.TokenInfo, e.now())
			p := e.printer()
			old := "The old token stops working now."
			if end, ok := resp.RotatedTokenInfo.Expires(); ok && end.After(p.now) {
				old = "The old token works until " + stamp(end) + " (" + relative(end, p.now) + "): replace it everywhere before then."
			}
			what := fmt.Sprintf("Rotated token %s to %s%s, which %s. %s",
				id, resp.TokenInfo.TokenID, quotedComment(resp.TokenInfo.Comment), expirySentence(&resp.TokenInfo, p.now), old)
			switch {
			case p.json:
				return p.JSON(resp)
			case p.tty:
				fmt.Fprintf(p.w, "%s\n\n    %s\n\nCopy it now: it is shown only once.\n", what, resp.TokenValue)
			default:
				fmt.Fprintln(e.stdio.Err, what)
				fmt.Fprintln(p.w, resp.TokenValue)
			}
			return nil
		}),
	}
	rotate.Flags().StringVar(&grace, "grace", "", "how long the old token keeps working, such as 24h, 30m or 0s (default 1 day)")
	cmd.AddCommand(create, list, revoke, rotate)
	return cmd
}

// parseGrace reads a grace period: a lifetime (90d, 12h, 30m, 3600s) or
// zero.
func parseGrace(s string) (time.Duration, error) {
	if n := strings.TrimRight(strings.TrimSpace(s), "dhms"); n != "" && strings.Trim(n, "0") == "" {
		return 0, nil
	}
	return service.ParseLifetime(s)
}

// revoked reports a revocation.
func (e *clientEnv) revoked(id string) error {
	p := e.printer()
	if p.json {
		return p.JSON(map[string]any{"token_id": id, "revoked": true})
	}
	fmt.Fprintf(e.stdio.Err, "Revoked token %s.\n", id)
	return nil
}

func quotedComment(c string) string {
	if c == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", c)
}

// tokenIDLen is the length of a whole token id.
const tokenIDLen = 64

// resolveTokenID expands a unique prefix of a token id, listing the
// candidates only when the id is not whole.
func resolveTokenID(arg string, candidates func() ([]client.TokenInfo, error)) (string, error) {
	return resolveTokenIDIn(arg, func() ([]string, error) {
		toks, err := candidates()
		ids := make([]string, len(toks))
		for i, t := range toks {
			ids[i] = t.TokenID
		}
		return ids, err
	})
}

// resolveTokenIDIn is resolveTokenID over bare ids, for commands that
// list tokens from the store rather than through the API (kiln admin).
func resolveTokenIDIn(arg string, candidates func() ([]string, error)) (string, error) {
	arg = strings.ToLower(strings.TrimSpace(arg))
	if arg == "" {
		return "", usageError{errors.New("the token id is empty")}
	}
	if len(arg) >= tokenIDLen {
		return arg, nil
	}
	ids, err := candidates()
	if err != nil {
		return "", err
	}
	var match []string
	for _, id := range ids {
		if strings.HasPrefix(id, arg) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 0:
		return "", notFoundError{fmt.Errorf("no valid token has an id starting with %q", arg)}
	case 1:
		return match[0], nil
	default:
		return "", usageError{fmt.Errorf("%d tokens have ids starting with %q: give more of the id", len(match), arg)}
	}
}

func (e *clientEnv) tokenManagementCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token-management",
		Short: "Manage every token of the workspace (admins)",
		Example: `  kiln token-management list --created-by-username jane@example.com
  kiln token-management revoke 5f2c0e3b9d8a
  kiln token-management permissions set --group users`,
	}
	e.addFlags(cmd)

	var f client.TokenFilter
	list := &cobra.Command{
		Use:   "list",
		Short: "List the valid tokens of every user",
		Example: `  kiln token-management list
  kiln token-management list --created-by-username jane@example.com -o json`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			toks, err := c.ListAllTokens(ctx, f)
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(toks)
			}
			if len(toks) == 0 {
				fmt.Fprintln(e.stdio.Err, "No valid tokens.")
				return nil
			}
			rows := make([][]string, 0, len(toks))
			for i := range toks {
				t := &toks[i]
				rows = append(rows, []string{p.id(t.TokenID), createdBy(t), t.Comment, relative(t.Created(), p.now), expiry(t, p.now), day(t.LastUsedDay, p.now)})
			}
			p.Table([]string{"ID", "CREATED BY", "COMMENT", "CREATED", "EXPIRES", "LAST USED"}, rows)
			return nil
		}),
	}
	list.Flags().Int64Var(&f.CreatedByID, "created-by-id", 0, "only tokens created by the user with this id")
	list.Flags().StringVar(&f.CreatedByUsername, "created-by-username", "", "only tokens created by this user name")

	all := func(ctx context.Context, c *client.Client) func() ([]client.TokenInfo, error) {
		return func() ([]client.TokenInfo, error) { return c.ListAllTokens(ctx, client.TokenFilter{}) }
	}
	get := &cobra.Command{
		Use:   "get TOKEN_ID",
		Short: "Show one token",
		Example: `  kiln token-management get 5f2c0e3b9d8a
  kiln token-management get 5f2c0e3b9d8a -o json`,
		Args: exactArgs(1, "TOKEN_ID"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id, err := resolveTokenID(args[0], all(ctx, c))
			if err != nil {
				return err
			}
			t, err := c.GetToken(ctx, id)
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(t)
			}
			p.KV([][2]string{
				{"ID", t.TokenID}, {"Comment", t.Comment}, {"Created by", createdBy(t)},
				{"Owner ID", strconv.FormatInt(t.OwnerID, 10)},
				{"Created", stamp(t.Created()) + " (" + relative(t.Created(), p.now) + ")"},
				{"Expires", expiryDetail(t, p)}, {"Last used", day(t.LastUsedDay, p.now)},
			})
			return nil
		}),
	}
	revoke := &cobra.Command{
		Use:     "revoke TOKEN_ID",
		Aliases: []string{"delete"},
		Short:   "Revoke any token",
		Example: `  kiln token-management revoke 5f2c0e3b9d8a
  kiln token-management delete 5f2c0e3b9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b`,
		Args: exactArgs(1, "TOKEN_ID"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id, err := resolveTokenID(args[0], all(ctx, c))
			if err != nil {
				return err
			}
			if err := c.RevokeToken(ctx, id); err != nil {
				return err
			}
			return e.revoked(id)
		}),
	}
	var revokeFound bool
	lookup := &cobra.Command{
		Use:   "lookup",
		Short: "Find the token a leaked value belongs to (reads the value from stdin)",
		Long: `Find the token a value belongs to: its owner, id, comment, creation, last use,
the addresses it was used from and whether it still works. The value is read
from standard input, so that it never appears in the shell history or the
process list; the server digests it and stores nothing of it. With --revoke a
live token is revoked in the same call.`,
		Example: `  pbpaste | kiln token-management lookup
  kiln token-management lookup --revoke < leaked.txt`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			value, err := readSecretLine(e.stdio.In, e.stdio.Err, "Token value to look up")
			if err != nil {
				return usageError{err}
			}
			l, err := c.LookupToken(ctx, value, revokeFound)
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(l)
			}
			t := &l.TokenInfo
			state := l.State
			if l.RevokedNow {
				state = "revoked now"
			}
			var addrs []string
			for _, a := range l.SourceAddresses {
				addrs = append(addrs, a.Address)
			}
			rows := [][]string{
				{"Token", t.TokenID}, {"Owner", l.Owner}, {"State", state}, {"Comment", t.Comment},
				{"Created", relative(t.Created(), p.now)}, {"Expires", expiry(t, p.now)}, {"Last used", day(t.LastUsedDay, p.now)},
				{"Used from", strings.Join(addrs, ", ")},
			}
			p.Table([]string{"FIELD", "VALUE"}, rows)
			if l.Live {
				fmt.Fprintf(e.stdio.Err, "The token is live: revoke it with `kiln token-management revoke %s` (or look up again with --revoke).\n", t.TokenID)
			}
			return nil
		}),
	}
	lookup.Flags().BoolVar(&revokeFound, "revoke", false, "revoke the token if it is live")
	cmd.AddCommand(list, get, revoke, lookup, e.tokenPermissionsCmd())
	return cmd
}

// createdBy names who created a token: a user name, else an id; kiln
// reports tokens minted offline (kiln admin tokens create) with neither.
func createdBy(t *client.TokenInfo) string {
	switch {
	case t.CreatedByUsername != "":
		return t.CreatedByUsername
	case t.CreatedByID != 0:
		return strconv.FormatInt(t.CreatedByID, 10)
	default:
		return "kiln admin (offline)"
	}
}

func expiryDetail(t *client.TokenInfo, p *printer) string {
	exp, ok := t.Expires()
	if !ok {
		return "never"
	}
	return stamp(exp) + " (" + expiry(t, p.now) + ")"
}

func (e *clientEnv) tokenPermissionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "permissions",
		Short: "Show and set who may create and use tokens",
		Example: `  kiln token-management permissions get
  kiln token-management permissions set --group users`,
	}
	get := &cobra.Command{
		Use:   "get",
		Short: "Show who may use tokens",
		Example: `  kiln token-management permissions get
  kiln token-management permissions get -o json`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			perms, err := c.GetTokenPermissions(ctx)
			if err != nil {
				return err
			}
			return e.printPermissions(perms)
		}),
	}
	var users, groups, sps []string
	var clear bool
	set := &cobra.Command{
		Use:   "set",
		Short: "Replace who may use tokens (CAN_USE)",
		Long: `Replace every grant on tokens: the users, groups and service principals
named get CAN_USE, and everyone else loses it. The admins group always keeps
CAN_MANAGE. --clear removes every grant.`,
		Example: `  kiln token-management permissions set --group users
  kiln token-management permissions set --user jane@example.com --service-principal 6f5ccf28-d83a-4957-9bfb-5bbfac551410
  kiln token-management permissions set --clear`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			var acl []client.AccessControlRequest
			for _, u := range users {
				acl = append(acl, client.AccessControlRequest{UserName: u, PermissionLevel: "CAN_USE"})
			}
			for _, g := range groups {
				acl = append(acl, client.AccessControlRequest{GroupName: g, PermissionLevel: "CAN_USE"})
			}
			for _, s := range sps {
				acl = append(acl, client.AccessControlRequest{ServicePrincipalName: s, PermissionLevel: "CAN_USE"})
			}
			if len(acl) == 0 && !clear {
				return usageError{errors.New("name at least one --user, --group or --service-principal, or --clear to remove every grant")}
			}
			if len(acl) > 0 && clear {
				return usageError{errors.New("--clear removes every grant: do not name grantees with it")}
			}
			perms, err := c.SetTokenPermissions(ctx, acl)
			if err != nil {
				return err
			}
			return e.printPermissions(perms)
		}),
	}
	set.Flags().StringArrayVar(&users, "user", nil, "user name to grant CAN_USE (repeatable)")
	set.Flags().StringArrayVar(&groups, "group", nil, "group to grant CAN_USE (repeatable)")
	set.Flags().StringArrayVar(&sps, "service-principal", nil, "service principal application id to grant CAN_USE (repeatable)")
	set.Flags().BoolVar(&clear, "clear", false, "remove every grant (only admins may then use tokens)")
	cmd.AddCommand(get, set)
	return cmd
}

func (e *clientEnv) printPermissions(perms *client.ObjectPermissions) error {
	p := e.printer()
	if p.json {
		return p.JSON(perms)
	}
	var rows [][]string
	for _, a := range perms.AccessControlList {
		kind, name := "user", a.UserName
		switch {
		case a.GroupName != "":
			kind, name = "group", a.GroupName
		case a.ServicePrincipalName != "":
			kind, name = "service principal", a.ServicePrincipalName
		}
		var levels []string
		for _, l := range a.AllPermissions {
			levels = append(levels, l.PermissionLevel)
		}
		rows = append(rows, []string{kind, name, strings.Join(levels, ", ")})
	}
	p.Table([]string{"TYPE", "NAME", "PERMISSION"}, rows)
	return nil
}

// readSecretLine reads one secret value from r: on a terminal, after
// prompting on errw, without echo; otherwise the first non-empty line,
// trimmed, of at most 4 KiB of input.
func readSecretLine(r io.Reader, errw io.Writer, prompt string) (string, error) {
	if r == nil {
		return "", errors.New("give the token value on standard input")
	}
	if isTerminal(r) {
		fmt.Fprint(errw, prompt+" (not shown): ")
		b, err := term.ReadPassword(int(r.(*os.File).Fd()))
		fmt.Fprintln(errw)
		if err != nil {
			return "", fmt.Errorf("reading the value: %v", err)
		}
		if v := strings.TrimSpace(string(b)); v != "" {
			return v, nil
		}
		return "", errors.New("no value given")
	}
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", fmt.Errorf("reading standard input: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v := strings.TrimSpace(line); v != "" {
			return v, nil
		}
	}
	return "", errors.New("standard input is empty: give the token value on standard input, such as `kiln token-management lookup < leaked.txt`")
}
