// Package notebook reads and writes Databricks notebooks in SOURCE format,
// the form kiln stores them in, and converts them to and from Jupyter
// notebooks (.ipynb, nbformat 4). The runner and the workspace service
// both read notebooks through it, so a notebook has one set of cells
// whichever of them looks.
//
// A SOURCE notebook is a source file of the notebook's language: a header
// line, then the cells separated by command lines. A cell in another
// language than the notebook's starts with a magic command (%md, %sql,
// %run …) and is written as MAGIC comment lines; a cell's title is a
// DBTITLE line before its text. For Python:
//
//	# Databricks notebook source
//	# DBTITLE 1,Load
//	x = 1
//
//	# COMMAND ----------
//
//	# MAGIC %md
//	# MAGIC # A title
//	# MAGIC
//	# MAGIC Some text
//
// SQL notebooks write "--" and Scala notebooks "//" where Python and R
// notebooks write "#".
//
// Reading follows one rule per quirk of the format, chosen to match what
// Databricks writes and to accept what editors do to it:
//
//   - A UTF-8 byte order mark is ignored, lines end at "\n", and the
//     carriage returns ending a line are dropped (CRLF files read as LF).
//     Invalid UTF-8 reads as U+FFFD.
//   - The header is the first line, trailing blanks (spaces, tabs)
//     allowed. A notebook without it reads the same, its first line being
//     content.
//   - A command separator is a line "# COMMAND ----------", trailing
//     blanks allowed. An indented one is content: Databricks never indents
//     it, and indented it is a comment inside a block of code.
//   - A cell's text has no leading or trailing empty lines. An empty cell
//     is still a cell: callers decide whether to skip it.
//   - A DBTITLE line is a title only as a cell's first line: "# DBTITLE
//     1,Load" titles the cell Load (1 shows the title, 0 hides it).
//     Anywhere else it is an ordinary comment.
//   - A MAGIC line is "# MAGIC" alone (an empty line) or "# MAGIC "
//     followed by the line ("# MAGICAL" is an ordinary comment). A cell
//     whose first line (after its title) is a MAGIC line has the prefix,
//     and the one space after it, removed from each of its MAGIC lines;
//     other lines are kept as they are.
//   - A cell's magic command is the first word of its text when the text
//     starts with "%", whether the cell was written with MAGIC lines or
//     not: "%sql" on the first line makes a SQL cell, as in the notebook
//     editor.
//
// Writing (Jupyter import) is the inverse: any text that would read back
// differently as plain lines (it starts with "%", a MAGIC or DBTITLE
// line, or holds a command separator) is written as MAGIC lines, so that
// an exported notebook is a fixed point of import then export.
package notebook

import (
	"bytes"
	"strings"

	"github.com/kiln-dev/kiln"
)

// syntax is what the SOURCE notebooks of each language write: the line
// comment that starts the format's lines, and the file extension.
var syntax = map[kiln.Language]struct{ comment, ext string }{
	kiln.LanguagePython: {"#", "py"},
	kiln.LanguageSQL:    {"--", "sql"},
	kiln.LanguageScala:  {"//", "scala"},
	kiln.LanguageR:      {"#", "r"},
}

// commentPrefix is the line comment of a notebook language (Python's for
// an unknown one).
func commentPrefix(lang kiln.Language) string {
	if s, ok := syntax[lang]; ok {
		return s.comment
	}
	return "#"
}

// header is the first line of a SOURCE notebook in lang.
func header(lang kiln.Language) string { return commentPrefix(lang) + " Databricks notebook source" }

// separator is the line between two cells.
func separator(lang kiln.Language) string { return commentPrefix(lang) + " COMMAND ----------" }

// magicPrefix starts every line of a cell written as MAGIC lines.
func magicPrefix(lang kiln.Language) string { return commentPrefix(lang) + " MAGIC" }

// titlePrefix starts the line holding a cell's title.
func titlePrefix(lang kiln.Language) string { return commentPrefix(lang) + " DBTITLE" }

// isLine reports whether l is the format line want, trailing blanks
// allowed.
func isLine(l, want string) bool { return strings.TrimRight(l, " \t") == want }

// FileType is the extension, without the dot, of a SOURCE notebook in
// lang: py, sql, scala or r (py for an unknown language).
func FileType(lang kiln.Language) string {
	if s, ok := syntax[lang]; ok {
		return s.ext
	}
	return "py"
}

// LanguageOfExt maps the extension of a SOURCE notebook file (with the
// dot, any case: ".py", ".SQL") to its language; "" for any other
// extension.
func LanguageOfExt(ext string) kiln.Language {
	for lang, s := range syntax {
		if strings.ToLower(ext) == "."+s.ext {
			return lang
		}
	}
	return ""
}

var bom = []byte("\xef\xbb\xbf")

// firstLine returns the first line of b as Split reads it for the
// header: without a byte order mark, the carriage returns ending it or
// trailing blanks.
func firstLine(b []byte) string {
	b = bytes.TrimPrefix(b, bom)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return strings.TrimRight(strings.TrimRight(string(b), "\r"), " \t")
}

// HeaderLanguage returns the language whose SOURCE header is the first
// line of src, "" when src does not start with a header. Python and R
// share "# Databricks notebook source": it is R when ext (the file's
// extension, as for [LanguageOfExt]) says so, else Python.
func HeaderLanguage(src []byte, ext string) kiln.Language {
	switch firstLine(src) {
	case header(kiln.LanguagePython):
		if LanguageOfExt(ext) == kiln.LanguageR {
			return kiln.LanguageR
		}
		return kiln.LanguagePython
	case header(kiln.LanguageSQL):
		return kiln.LanguageSQL
	case header(kiln.LanguageScala):
		return kiln.LanguageScala
	}
	return ""
}

// WithHeader returns src starting with the SOURCE header of lang: src
// itself when its first line is that header, else a copy with the header
// line prepended (and a byte order mark dropped, which would otherwise
// end up inside the first cell). Databricks exports every notebook with
// its header, and the header is what makes an AUTO import of an export a
// notebook again. Split reads the same cells from src and the result.
func WithHeader(src []byte, lang kiln.Language) []byte {
	h := header(lang)
	if firstLine(src) == h {
		return src
	}
	src = bytes.TrimPrefix(src, bom)
	out := make([]byte, 0, len(h)+1+len(src))
	out = append(out, h...)
	out = append(out, '\n')
	return append(out, src...)
}

// Cell is one cell of a notebook, as the notebook editor shows it.
type Cell struct {
	// Title is the cell's title, "" when it has none. It is one line
	// without trailing blanks.
	Title string
	// ShowTitle is whether the editor shows the title (DBTITLE 1); it is
	// false when Title is "".
	ShowTitle bool
	// Text is the cell's text without MAGIC prefixes: lines end with "\n"
	// (the last one without), and it has no leading or trailing empty
	// lines. A cell in another language starts with its magic command
	// ("%sql\nSELECT 1"); see [Cell.Magic].
	Text string
}

// Magic returns the cell's magic command when its text starts with one:
// cmd is the first word of the first line ("%md", "%md-sandbox", "%sql",
// "%run" …), arg the rest of that line without surrounding blanks
// ("./lib" for "%run ./lib"), body the lines after it. ok is false, and
// the rest empty, for a cell in the notebook's own language.
func (c Cell) Magic() (cmd, arg, body string, ok bool) {
	if !strings.HasPrefix(c.Text, "%") {
		return "", "", "", false
	}
	line, body, _ := strings.Cut(c.Text, "\n")
	cmd = line
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		cmd, arg = line[:i], strings.TrimSpace(line[i:])
	}
	return cmd, arg, body, true
}

// Split returns the cells of the SOURCE notebook src in lang, in order,
// empty ones included: the header line is dropped, command separators
// split, and each cell's title and MAGIC prefixes are read as the package
// documentation says. It always returns at least one cell (empty text
// reads as one empty cell).
func Split(src []byte, lang kiln.Language) []Cell {
	text := trimLineCRs(strings.ToValidUTF8(string(bytes.TrimPrefix(src, bom)), "\uFFFD"))
	lines := strings.Split(text, "\n")
	if isLine(lines[0], header(lang)) {
		lines = lines[1:]
	}
	sep := separator(lang)
	var cells []Cell
	start := 0
	for i := 0; i <= len(lines); i++ {
		if i == len(lines) || isLine(lines[i], sep) {
			cells = append(cells, readCell(strings.Join(lines[start:i], "\n"), lang))
			start = i + 1
		}
	}
	return cells
}

// readCell reads the text between two separators.
func readCell(text string, lang kiln.Language) Cell {
	var c Cell
	text = normalize(text)
	first, rest, _ := strings.Cut(text, "\n")
	if title, show, ok := parseTitle(first, lang); ok {
		c.Title, c.ShowTitle = title, show
		text = normalize(rest)
	}
	if s, ok := unmagic(text, magicPrefix(lang)); ok {
		text = normalize(s)
	}
	c.Text = text
	return c
}

// parseTitle reads a DBTITLE line: "# DBTITLE 1,Load" is the title Load,
// shown. Without the "0," or "1," the rest of the line is the title,
// hidden.
func parseTitle(l string, lang kiln.Language) (title string, show, ok bool) {
	rest, ok := strings.CutPrefix(l, titlePrefix(lang))
	if !ok {
		return "", false, false
	}
	if rest != "" {
		if rest, ok = strings.CutPrefix(rest, " "); !ok {
			return "", false, false // "# DBTITLEx" is a comment
		}
	}
	if flag, t, found := strings.Cut(rest, ","); found && (flag == "0" || flag == "1") {
		title, show = cleanTitle(t), flag == "1"
	} else {
		title = cleanTitle(rest)
	}
	return title, show && title != "", true
}

// cleanTitle makes a title one line without trailing blanks, as a
// DBTITLE line holds it.
func cleanTitle(t string) string {
	t = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, t)
	return strings.TrimRight(t, " \t")
}

// magicLine returns the content of a MAGIC line ("# MAGIC x" is x,
// "# MAGIC" empty) and whether l is one.
func magicLine(l, magic string) (string, bool) {
	rest, ok := strings.CutPrefix(l, magic)
	if !ok || rest == "" {
		return "", ok
	}
	return strings.CutPrefix(rest, " ")
}

// unmagic returns text with the prefix of its MAGIC lines removed, when
// its first line is one.
func unmagic(text, magic string) (string, bool) {
	lines := strings.Split(text, "\n")
	if _, ok := magicLine(lines[0], magic); !ok {
		return "", false
	}
	for i, l := range lines {
		if s, ok := magicLine(l, magic); ok {
			lines[i] = s
		}
	}
	return strings.Join(lines, "\n"), true
}

// normalize makes a cell's text canonical: "\n" line ends, no leading or
// trailing empty lines.
func normalize(s string) string { return strings.Trim(trimLineCRs(s), "\n") }

// trimLineCRs drops the carriage returns that end lines ("\r\n", also
// "\r\r\n" and a final "\r").
func trimLineCRs(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, "\r")
	}
	return strings.Join(lines, "\n")
}

// join writes cells as a SOURCE notebook in lang, as Databricks does:
// the header, then the cells separated by blank-line-framed command
// lines, a title as a DBTITLE line, and text that would not read back
// as it is (see needsMagic) as MAGIC lines. Split(join(cells)) gives
// cells back, each normalized as Split returns them, for any non-empty
// cells.
func join(cells []Cell, lang kiln.Language) []byte {
	var b strings.Builder
	b.WriteString(header(lang))
	b.WriteByte('\n')
	for i, c := range cells {
		if i > 0 {
			b.WriteString("\n\n" + separator(lang) + "\n\n")
		}
		text := normalize(strings.ToValidUTF8(c.Text, "\uFFFD"))
		if needsMagic(text, lang) {
			text = magicLines(magicPrefix(lang), text)
		}
		if t := cleanTitle(strings.ToValidUTF8(c.Title, "\uFFFD")); t != "" {
			flag := "0"
			if c.ShowTitle {
				flag = "1"
			}
			b.WriteString(titlePrefix(lang) + " " + flag + "," + t)
			if text != "" {
				b.WriteByte('\n')
			}
		}
		b.WriteString(text)
	}
	b.WriteByte('\n')
	return []byte(b.String())
}

// needsMagic reports whether text must be written as MAGIC lines: when it
// starts with a magic command ("%sql"), as Databricks writes those, and
// whenever written as is it would read back differently: its first line
// a MAGIC line (it would lose a level of prefix) or a DBTITLE line (it
// would become the title), or any line a command separator (it would
// split the cell).
func needsMagic(text string, lang kiln.Language) bool {
	first, _, _ := strings.Cut(text, "\n")
	if strings.HasPrefix(first, "%") {
		return true
	}
	if _, ok := magicLine(first, magicPrefix(lang)); ok {
		return true
	}
	if _, _, ok := parseTitle(first, lang); ok {
		return true
	}
	sep := separator(lang)
	for l := range strings.SplitSeq(text, "\n") {
		if isLine(l, sep) {
			return true
		}
	}
	return false
}

// magicLines prefixes every line of text with magic ("# MAGIC"), an
// empty line with the bare prefix.
func magicLines(magic, text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l == "" {
			lines[i] = magic
		} else {
			lines[i] = magic + " " + l
		}
	}
	return strings.Join(lines, "\n")
}
