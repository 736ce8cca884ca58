package client

import (
	"bytes"
	"fmt"
	"strings"
)

// iniFile is a parsed profile file that remembers every line, so that a
// profile can be changed without touching a byte of the others (comments,
// ordering and unknown keys included).
type iniFile struct {
	lines []iniLine
	// eol is the line ending to use for new lines: the file's own.
	eol string
}

type lineKind int

const (
	lineBlank lineKind = iota // blank or comment
	lineSection
	lineKey
)

type iniLine struct {
	raw     string // without its line ending
	kind    lineKind
	section string // the section the line belongs to (or opens)
	key     string
	value   string
}

// iniSyntaxError reports a line that is neither blank, a comment, a section
// header nor a key = value pair. It never quotes the line: a mistyped
// line may hold a token.
type iniSyntaxError struct {
	Line int
	Msg  string
}

// Error returns the line number and what is wrong with the line.
func (e *iniSyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// parseINI reads the INI dialect the Databricks SDKs read (gopkg.in/ini.v1
// defaults): [section] headers, "key = value" or "key: value" pairs, "#"
// and ";" comments, optional quotes around values, and keys before any
// header belonging to DEFAULT. Keys and section names are case-sensitive.
func parseINI(data []byte) (*iniFile, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	f := &iniFile{eol: "\n"}
	if bytes.Contains(data, []byte("\r\n")) {
		f.eol = "\r\n"
	}
	text := string(data)
	if text == "" {
		return f, nil
	}
	text = strings.TrimSuffix(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	section := DefaultProfile
	for i, raw := range strings.Split(text, "\n") {
		l := iniLine{raw: raw, section: section}
		s := strings.TrimSpace(raw)
		switch {
		case s == "" || s[0] == '#' || s[0] == ';':
			l.kind = lineBlank
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, &iniSyntaxError{i + 1, `a section header must look like "[name]"`}
			}
			if rest := strings.TrimSpace(s[end+1:]); rest != "" && rest[0] != '#' && rest[0] != ';' {
				return nil, &iniSyntaxError{i + 1, `unexpected text after "]"`}
			}
			name := strings.TrimSpace(s[1:end])
			if name == "" {
				return nil, &iniSyntaxError{i + 1, "empty section name"}
			}
			section = name
			l.kind, l.section = lineSection, name
		default:
			sep := strings.IndexAny(s, "=:")
			if sep <= 0 {
				return nil, &iniSyntaxError{i + 1, `expected "key = value" or "[profile]"`}
			}
			l.kind = lineKey
			l.key = strings.TrimSpace(s[:sep])
			l.value = iniValue(strings.TrimSpace(s[sep+1:]))
		}
		f.lines = append(f.lines, l)
	}
	return f, nil
}

// iniValue unquotes a value or strips an inline comment, as ini.v1 does.
func iniValue(v string) string {
	if len(v) >= 2 {
		if q := v[0]; (q == '"' || q == '\'' || q == '`') && v[len(v)-1] == q {
			return v[1 : len(v)-1]
		}
	}
	if i := strings.IndexAny(v, "#;"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}

// sectionNames lists the sections in file order; DEFAULT is listed only
// when it has keys or a header.
func (f *iniFile) sectionNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, l := range f.lines {
		if (l.kind == lineSection || l.kind == lineKey) && !seen[l.section] {
			seen[l.section] = true
			names = append(names, l.section)
		}
	}
	return names
}

// has reports whether the section exists.
func (f *iniFile) has(section string) bool {
	for _, n := range f.sectionNames() {
		if n == section {
			return true
		}
	}
	return false
}

// section returns the keys of a section; a repeated key keeps its last
// value, and a section opened twice is one section, as in ini.v1.
func (f *iniFile) section(name string) map[string]string {
	out := map[string]string{}
	for _, l := range f.lines {
		if l.kind == lineKey && l.section == name {
			out[l.key] = l.value
		}
	}
	return out
}

// set makes the section hold each key of values (in the given order),
// removes the keys listed in drop, and leaves every other line of the
// file as it was. A missing section is appended at the end.
func (f *iniFile) set(section string, values [][2]string, drop []string) {
	dropSet := map[string]bool{}
	for _, k := range drop {
		dropSet[k] = true
	}
	want := map[string]string{}
	for _, kv := range values {
		want[kv[0]] = kv[1]
	}
	written := map[string]bool{}
	last := -1 // index of the last line belonging to the section
	var out []iniLine
	for _, l := range f.lines {
		if l.section == section && l.kind != lineBlank {
			if l.kind == lineKey {
				if v, ok := want[l.key]; ok {
					if written[l.key] {
						continue // a duplicate: the first occurrence holds the value
					}
					written[l.key] = true
					l.raw, l.value = l.key+" = "+v, v
				} else if dropSet[l.key] {
					continue
				}
			}
			out = append(out, l)
			last = len(out) - 1
			continue
		}
		out = append(out, l)
	}
	var add []iniLine
	for _, kv := range values {
		if !written[kv[0]] {
			add = append(add, iniLine{raw: kv[0] + " = " + kv[1], kind: lineKey, section: section, key: kv[0], value: kv[1]})
		}
	}
	switch {
	case len(add) == 0:
	case last >= 0:
		out = append(out[:last+1], append(add, out[last+1:]...)...)
	default:
		if len(out) > 0 && strings.TrimSpace(out[len(out)-1].raw) != "" {
			out = append(out, iniLine{raw: "", kind: lineBlank, section: out[len(out)-1].section})
		}
		out = append(out, iniLine{raw: "[" + section + "]", kind: lineSection, section: section})
		out = append(out, add...)
	}
	f.lines = out
}

// bytes renders the file, ending with a newline.
func (f *iniFile) bytes() []byte {
	var b strings.Builder
	for _, l := range f.lines {
		b.WriteString(l.raw)
		b.WriteString(f.eol)
	}
	return []byte(b.String())
}
