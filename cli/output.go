package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/kiln-dev/kiln/client"
)

// Output formats of the client commands.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// printer writes a command's result: aligned tables for people, JSON for
// scripts.
type printer struct {
	w    io.Writer
	json bool
	// tty is set when w is a terminal: IDs are shortened there.
	tty bool
	now time.Time
}

func newPrinter(w io.Writer, format string, now time.Time) *printer {
	return &printer{w: w, json: format == outputJSON, tty: isTerminal(w), now: now}
}

// JSON writes v as indented JSON.
func (p *printer) JSON(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Table writes rows under a header, aligned in columns.
func (p *printer) Table(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(cleanCells(r), "\t"))
	}
	tw.Flush()
}

// KV writes "Key:  value" lines, aligned.
func (p *printer) KV(pairs [][2]string) {
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	for _, kv := range pairs {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], cleanCell(kv[1]))
	}
	tw.Flush()
}

func cleanCells(r []string) []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = cleanCell(c)
	}
	return out
}

// cleanCell keeps a cell on one line and out of the column separator:
// comments and names come from other people and may hold anything.
func cleanCell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// id shortens a token id on a terminal, as docker does; scripts, which
// read pipes, always get the whole id. Commands taking an id accept any
// unique prefix.
func (p *printer) id(s string) string {
	if p.tty && len(s) > 12 {
		return s[:12]
	}
	return s
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// relative renders t against now: "in 90 days", "3 hours ago", "just now".
// It rounds to the nearest unit rather than truncating: a token created a
// moment ago with a 90-day lifetime expires "in 90 days", as its creator
// asked, not "in 89 days". A value that rounds up to the next unit is shown
// in that unit ("in 1 hour", never "in 60 minutes").
func relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	if d < time.Second {
		return "just now"
	}
	s := ""
	for _, u := range []struct {
		unit string
		size time.Duration
		max  int64 // the count at which the next unit takes over
	}{{"second", time.Second, 60}, {"minute", time.Minute, 60}, {"hour", time.Hour, 24}, {"day", 24 * time.Hour, 0}} {
		n := int64(d.Round(u.size) / u.size)
		if u.max == 0 || n < u.max {
			s = plural(int(n), u.unit)
			break
		}
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// expiry renders a token's expiry for a table: "in 90 days", "never", or
// "EXPIRED 3 days ago" so that expired tokens stand out.
func expiry(t *client.TokenInfo, now time.Time) string {
	exp, ok := t.Expires()
	switch {
	case !ok:
		return "never"
	case !exp.After(now):
		return "EXPIRED " + relative(exp, now)
	case t.RotatedToTokenID != "":
		return relative(exp, now) + " (rotated)"
	default:
		return relative(exp, now)
	}
}

// expirySentence is expiry as a phrase: "expires in 90 days (2026-02-25
// 14:03 UTC)", "expired 3 days ago (…)", "never expires".
func expirySentence(t *client.TokenInfo, now time.Time) string {
	exp, ok := t.Expires()
	switch {
	case !ok:
		return "never expires"
	case !exp.After(now):
		return "expired " + relative(exp, now) + " (" + stamp(exp) + ")"
	default:
		return "expires " + relative(exp, now) + " (" + stamp(exp) + ")"
	}
}

// stamp is an absolute time for people, in UTC.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// day renders a last-used day (epoch ms of the day), "never" for zero.
func day(ms int64, now time.Time) string {
	if ms <= 0 {
		return "never"
	}
	t := time.UnixMilli(ms).UTC()
	today := now.UTC().Truncate(24 * time.Hour)
	switch days := int(today.Sub(t.Truncate(24*time.Hour)) / (24 * time.Hour)); {
	case days <= 0:
		return "today"
	case days == 1:
		return "yesterday"
	default:
		return fmt.Sprintf("%d days ago", days)
	}
}
