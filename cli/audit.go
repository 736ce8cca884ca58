package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-dev/kiln/client"
	"github.com/kiln-dev/kiln/service"
)

func (e *clientEnv) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read kiln's audit log (admins)",
		Example: `  kiln audit list --since 24h
  kiln audit list --action token.create --actor jane@example.com`,
	}
	e.addFlags(cmd)
	var (
		f            client.AuditFilter
		since, until string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit events, newest first",
		Long: `List audit events, newest first: token creation and revocation, refused
tokens, setting and permission changes, identity changes, sign-ins.

--since and --until take a duration back from now (90m, 24h, 7d), a date
(2026-01-02) or an RFC 3339 time. When more events match than --limit, the
command says how to get the next page (--before-id).`,
		Example: `  kiln audit list --since 24h
  kiln audit list --action token.denied --limit 20
  kiln audit list --since 2026-01-01 -o json | jq '.events[].action'`,
		Args: cobra.NoArgs,
		RunE: e.run(func(ctx context.Context, c *client.Client, args []string) error {
			now := e.now()
			var err error
			if f.Since, err = parseWhen("--since", since, now); err != nil {
				return err
			}
			if f.Until, err = parseWhen("--until", until, now); err != nil {
				return err
			}
			if f.Limit < 1 || f.Limit > 1000 {
				return usageError{fmt.Errorf("--limit must be from 1 to 1000")}
			}
			page, err := c.ListAudit(ctx, f)
			if err != nil {
				return err
			}
			p := e.printer()
			if p.json {
				return p.JSON(page)
			}
			if len(page.Events) == 0 {
				fmt.Fprintln(e.stdio.Err, "No matching events.")
				return nil
			}
			rows := make([][]string, 0, len(page.Events))
			for _, ev := range page.Events {
				actor := ev.ActorName
				if ev.Count > 1 {
					actor += fmt.Sprintf(" (×%d)", ev.Count)
				}
				rows = append(rows, []string{
					strconv.FormatInt(ev.ID, 10), time.UnixMilli(ev.Time).Local().Format("2006-01-02 15:04:05"),
					ev.Action, actor, ev.Target, details(ev.Detail),
				})
			}
			p.Table([]string{"ID", "TIME", "ACTION", "ACTOR", "TARGET", "DETAIL"}, rows)
			if page.NextBeforeID != 0 {
				fmt.Fprintf(e.stdio.Err, "More events: add --before-id %d\n", page.NextBeforeID)
			}
			return nil
		}),
	}
	fl := list.Flags()
	fl.StringVar(&f.Action, "action", "", "only this action, such as token.create or token.denied")
	fl.StringVar(&f.Actor, "actor", "", "only events by this user name")
	fl.StringVar(&since, "since", "", "only events at or after this time (24h, 7d, 2026-01-02, RFC 3339)")
	fl.StringVar(&until, "until", "", "only events before this time")
	fl.Int64Var(&f.BeforeID, "before-id", 0, "only events older than this id (the next page)")
	fl.IntVar(&f.Limit, "limit", 50, "at most this many events, 1 to 1000")
	cmd.AddCommand(list)
	return cmd
}

// parseWhen reads a time flag: a duration back from now, a date, or an
// RFC 3339 time.
func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := service.ParseLifetime(v); err == nil && !isDigits(v) {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, usageError{fmt.Errorf("%s %q: give a duration back from now (24h, 7d), a date (2026-01-02) or an RFC 3339 time", flag, v)}
}

// details renders an event's detail map as sorted key=value pairs.
func details(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}
