package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/client"
)

// knownConfKeys are the settings `workspace-conf get` shows when no key is
// named: the ones kiln knows.
var knownConfKeys = []string{kiln.ConfDefaultTokenLifetimeDays, kiln.ConfEnableTokens, kiln.ConfMaxTokenLifetimeDays}

func (e *clientEnv) workspaceConfCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workspace-conf",
		Short: "Read and change workspace settings (admins)",
		Example: `  kiln workspace-conf get enableTokensConfig maxTokenLifetimeDays
  kiln workspace-conf set maxTokenLifetimeDays=90`,
	}
	e.addFlags(cmd)
	get := &cobra.Command{
		Use:   "get [KEY...]",
		Short: "Show workspace settings",
		Long: `Show the values of the named settings; without names, the settings kiln knows:
` + strings.Join(knownConfKeys, ", ") + ".",
		Example: `  kiln workspace-conf get
  kiln workspace-conf get enableTokensConfig -o json`,
		ValidArgs: knownConfKeys,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			return e.showConf(ctx, c, args)
		}),
	}
	set := &cobra.Command{
		Use:   "set KEY=VALUE...",
		Short: "Change workspace settings, all or none",
		Long: `Change workspace settings. Values are strings, stored as given; an empty value
resets a setting to its default. Either every change applies or none does.
The new values are shown afterwards.`,
		Example: `  kiln workspace-conf set enableTokensConfig=true maxTokenLifetimeDays=90
  kiln workspace-conf set maxTokenLifetimeDays=`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("%s needs at least one KEY=VALUE", cmd.CommandPath())}
			}
			return nil
		},
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			kv := map[string]string{}
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("%q is not KEY=VALUE", a)}
				}
				kv[k] = v
			}
			if err := c.SetWorkspaceConf(ctx, kv); err != nil {
				return err
			}
			keys := make([]string, 0, len(kv))
			for k := range kv {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			fmt.Fprintf(e.stdio.Err, "Updated %s.\n", strings.Join(keys, ", "))
			return e.showConf(ctx, c, keys)
		}),
	}
	cmd.AddCommand(get, set)
	return cmd
}

func (e *clientEnv) showConf(ctx context.Context, c *client.Client, keys []string) error {
	if len(keys) == 0 {
		keys = knownConfKeys
	}
	var flat []string
	for _, k := range keys {
		for _, part := range strings.Split(k, ",") {
			if part = strings.TrimSpace(part); part != "" {
				flat = append(flat, part)
			}
		}
	}
	kv, err := c.GetWorkspaceConf(ctx, flat)
	if err != nil {
		return err
	}
	p := e.printer()
	if p.json {
		return p.JSON(kv)
	}
	names := make([]string, 0, len(kv))
	for k := range kv {
		names = append(names, k)
	}
	sort.Strings(names)
	rows := make([][]string, 0, len(names))
	for _, k := range names {
		rows = append(rows, []string{k, kv[k]})
	}
	p.Table([]string{"KEY", "VALUE"}, rows)
	return nil
}
