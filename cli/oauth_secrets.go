package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/client"
	"github.com/kiln-dev/kiln/service"
)

// secretsCmd is `kiln service-principals secrets`: the OAuth secrets a
// service principal authenticates with (auth_type oauth-m2m).
func (e *clientEnv) secretsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Create, list and delete a service principal's OAuth secrets (admins)",
		Long: `OAuth secrets let a service principal authenticate as the official clients do
with auth_type = oauth-m2m: its application id is the client id, and the
secret buys one-hour access tokens at <host>/oidc/v1/token.`,
		Example: `  kiln service-principals secrets create 1234567890123456 --lifetime 90d
  kiln service-principals secrets list 1234567890123456
  kiln service-principals secrets delete 1234567890123456 SECRET_ID`,
	}
	var lifetime string
	create := &cobra.Command{
		Use:   "create SERVICE_PRINCIPAL_ID",
		Short: "Create an OAuth secret, shown once",
		Long: `Create an OAuth secret for the service principal with this SCIM id (or
application id). The secret is shown once: when standard output is not a
terminal only the secret is printed, so SECRET=$(kiln service-principals
secrets create ID) captures it. Without --lifetime it lives 730 days.`,
		Example: `  kiln service-principals secrets create 1234567890123456
  SECRET=$(kiln service-principals secrets create 1234567890123456 --lifetime 90d)`,
		Args: cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			var secs int64
			if lifetime != "" {
				d, err := service.ParseLifetime(lifetime)
				if err != nil {
					return usageError{fmt.Errorf("--lifetime: %v", err)}
				}
				secs = int64(d.Seconds())
			}
			s, err := c.CreateOAuthSecret(ctx, args[0], secs)
			if err != nil {
				return err
			}
			p := e.printer()
			switch {
			case p.json:
				return p.JSON(s)
			case p.tty:
				fmt.Fprintf(p.w, "Created OAuth secret %s, which expires %s.\n\n    %s\n\nCopy it now: it is shown only once.\n", s.ID, s.ExpireTime, s.Secret)
			default:
				fmt.Fprintf(e.stdio.Err, "Created OAuth secret %s, which expires %s.\n", s.ID, s.ExpireTime)
				fmt.Fprintln(p.w, s.Secret)
			}
			return nil
		}),
	}
	create.Flags().StringVar(&lifetime, "lifetime", "", "lifetime such as 90d, 12h or 3600s (default and most: 730d)")
	list := &cobra.Command{
		Use:     "list SERVICE_PRINCIPAL_ID",
		Short:   "List a service principal's OAuth secrets (never their values)",
		Example: "  kiln service-principals secrets list 1234567890123456\n  kiln service-principals secrets list 1234567890123456 --output json",
		Args:    cobra.ExactArgs(1),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			ss, err := c.ListOAuthSecrets(ctx, args[0])
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(ss)
			}
			rows := make([][]string, 0, len(ss))
			for _, s := range ss {
				rows = append(rows, []string{s.ID, s.Status, s.CreateTime, s.ExpireTime, s.SecretHash})
			}
			p.Table([]string{"ID", "STATUS", "CREATED", "EXPIRES", "SECRET HASH"}, rows)
			return nil
		}),
	}
	del := &cobra.Command{
		Use:     "delete SERVICE_PRINCIPAL_ID SECRET_ID",
		Short:   "Delete an OAuth secret; its access tokens stop working at once",
		Example: "  kiln service-principals secrets delete 1234567890123456 SECRET_ID",
		Args:    cobra.ExactArgs(2),
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			if err := c.DeleteOAuthSecret(ctx, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdio.Err, "Deleted OAuth secret %s.\n", args[1])
			return nil
		}),
	}
	cmd.AddCommand(create, list, del)
	return cmd
}
