package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/client"
)

// identityKind describes users or service principals for the shared
// list/create/delete commands.
type identityKind struct {
	use, noun, plural string
	// login is the name column: USER NAME or APPLICATION ID.
	login string
	list  func(ctx context.Context, c *client.Client, login string) ([]client.Principal, error)
	del   func(ctx context.Context, c *client.Client, id string) error
}

var (
	usersKind = identityKind{
		use: "users", noun: "user", plural: "users", login: "USER NAME",
		list: func(ctx context.Context, c *client.Client, login string) ([]client.Principal, error) {
			return c.ListUsers(ctx, login)
		},
		del: func(ctx context.Context, c *client.Client, id string) error { return c.DeleteUser(ctx, id) },
	}
	spKind = identityKind{
		use: "service-principals", noun: "service principal", plural: "service principals", login: "APPLICATION ID",
		list: func(ctx context.Context, c *client.Client, login string) ([]client.Principal, error) {
			return c.ListServicePrincipals(ctx, login)
		},
		del: func(ctx context.Context, c *client.Client, id string) error { return c.DeleteServicePrincipal(ctx, id) },
	}
)

func (e *clientEnv) usersCmd() *cobra.Command {
	cmd := e.identityCmd(usersKind, `  kiln users list
  kiln users create jane@example.com --display-name "Jane Doe"
  kiln users delete jane@example.com`)
	var displayName string
	var groups []string
	var admin bool
	create := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a user (admins)",
		Long: `Create a user, a member of the users group and of the groups named with
--group (--admin adds admins).`,
		Example: `  kiln users create jane@example.com --display-name "Jane Doe"
  kiln users create ops@example.com --admin -o json`,
		Args: exactArgs(1, "EMAIL"),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			refs, err := groupRefs(ctx, c, groups, admin)
			if err != nil {
				return err
			}
			u, err := c.CreateUser(ctx, client.Principal{UserName: args[0], DisplayName: displayName, Groups: refs})
			if err != nil {
				return err
			}
			return e.printCreated(usersKind, u)
		}),
	}
	create.Flags().StringVar(&displayName, "display-name", "", "the user's display name")
	create.Flags().StringArrayVar(&groups, "group", nil, "group to join besides users (repeatable)")
	create.Flags().BoolVar(&admin, "admin", false, "make the user a workspace admin (join admins)")
	cmd.AddCommand(create)
	return cmd
}

func (e *clientEnv) servicePrincipalsCmd() *cobra.Command {
	cmd := e.identityCmd(spKind, `  kiln service-principals list
  kiln service-principals create --display-name "CI pipeline"
  kiln service-principals delete 6f5ccf28-d83a-4957-9bfb-5bbfac551410`)
	var displayName, appID string
	var groups []string
	var admin bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a service principal (admins)",
		Long: `Create a service principal, a machine identity that can own tokens. Its
application id is generated unless --application-id gives one.`,
		Example: `  kiln service-principals create --display-name "CI pipeline"
  kiln service-principals create --display-name etl -o json | jq -r .applicationId`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			if strings.TrimSpace(displayName) == "" {
				return usageError{errors.New("--display-name is required")}
			}
			refs, err := groupRefs(ctx, c, groups, admin)
			if err != nil {
				return err
			}
			sp, err := c.CreateServicePrincipal(ctx, client.Principal{ApplicationID: appID, DisplayName: displayName, Groups: refs})
			if err != nil {
				return err
			}
			return e.printCreated(spKind, sp)
		}),
	}
	create.Flags().StringVar(&displayName, "display-name", "", "the service principal's name (required)")
	create.Flags().StringVar(&appID, "application-id", "", "application id (a UUID; generated when omitted)")
	create.Flags().StringArrayVar(&groups, "group", nil, "group to join besides users (repeatable)")
	create.Flags().BoolVar(&admin, "admin", false, "make the service principal a workspace admin (join admins)")
	cmd.AddCommand(create, e.secretsCmd())
	return cmd
}

// identityCmd builds the list and delete commands shared by users and
// service principals.
func (e *clientEnv) identityCmd(k identityKind, example string) *cobra.Command {
	cmd := &cobra.Command{
		Use:     k.use,
		Short:   "List, create and delete " + k.plural,
		Example: example,
	}
	e.addFlags(cmd)
	list := &cobra.Command{
		Use:   "list",
		Short: "List " + k.plural,
		Example: fmt.Sprintf(`  kiln %s list
  kiln %s list -o json`, k.use, k.use),
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			ps, err := k.list(ctx, c, "")
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(ps)
			}
			rows := make([][]string, 0, len(ps))
			for i := range ps {
				pr := &ps[i]
				rows = append(rows, []string{pr.ID, pr.Login(), pr.DisplayName, yesNo(pr.IsActive()), yesNo(pr.IsAdmin())})
			}
			p.Table([]string{"ID", k.login, "DISPLAY NAME", "ACTIVE", "ADMIN"}, rows)
			return nil
		}),
	}
	arg := "ID|" + strings.ReplaceAll(k.login, " ", "_")
	del := &cobra.Command{
		Use:   "delete " + arg,
		Short: fmt.Sprintf("Delete a %s and its tokens (admins)", k.noun),
		Long: fmt.Sprintf(`Delete a %s, by SCIM id or by %s. Its tokens stop
working at once.`, k.noun, strings.ToLower(k.login)),
		Example: fmt.Sprintf("  kiln %s delete 4351863927125523", k.use),
		Args:    exactArgs(1, arg),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			id := args[0]
			if !isDigits(id) {
				ps, err := k.list(ctx, c, id)
				if err != nil {
					return err
				}
				if len(ps) == 0 {
					return notFoundError{fmt.Errorf("no %s is named %s", k.noun, id)}
				}
				id = ps[0].ID
			}
			if err := k.del(ctx, c, id); err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(map[string]any{"id": id, "deleted": true})
			}
			fmt.Fprintf(e.stdio.Err, "Deleted %s %s.\n", k.noun, args[0])
			return nil
		}),
	}
	cmd.AddCommand(list, del)
	return cmd
}

func (e *clientEnv) printCreated(k identityKind, pr *client.Principal) error {
	p := e.printer()
	if p.json {
		return p.JSON(pr)
	}
	fmt.Fprintf(e.stdio.Err, "Created %s %s.\n", k.noun, pr.Login())
	p.KV(principalDetails(pr))
	return nil
}

// groupRefs resolves group names to SCIM references.
func groupRefs(ctx context.Context, c *client.Client, names []string, admin bool) ([]client.ComplexValue, error) {
	if admin {
		names = append(names, "admins")
	}
	var refs []client.ComplexValue
	for _, n := range names {
		g, err := c.GroupByName(ctx, n)
		if err != nil {
			return nil, err
		}
		refs = append(refs, client.ComplexValue{Value: g.ID})
	}
	return refs, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
