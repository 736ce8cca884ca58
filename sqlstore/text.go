package sqlstore

import (
	"strings"
	"unicode/utf8"
)

// storableText returns args with every string made storable on every
// dialect: valid UTF-8 without NUL. PostgreSQL refuses both in text (a
// failed statement, so a 500 for the caller), while SQLite stores them as
// given; replacing each offending byte sequence with U+FFFD here makes the
// two behave alike and keeps a bad byte in a query parameter or a run's
// output from ever failing a request. Callers validate names and comments
// before they get here, so in practice this touches free text only (task
// output, audit details, lookups of names that cannot exist).
//
// args is returned unchanged, without copying, when nothing needs to change:
// the common case costs a scan and no allocation.
func storableText(args []any) []any {
	out := args
	for i, a := range args {
		s, ok := a.(string)
		if !ok || storable(s) {
			continue
		}
		if &out[0] == &args[0] {
			out = append([]any(nil), args...)
		}
		out[i] = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	return out
}

func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
