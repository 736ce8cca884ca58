package service

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/kiln-dev/kiln"
)

// Notebooks are stored in Databricks' SOURCE format: a header line, then
// the cells' text separated by command lines, non-code cells as "MAGIC"
// comment lines. For Python:
//
//	# Databricks notebook source
//	print(1)
//
//	# COMMAND ----------
//
//	# MAGIC %md
//	# MAGIC # A title
//
// SQL uses "--" and Scala "//" in place of "#". JUPYTER (.ipynb) imports
// convert to it and JUPYTER exports convert from it; both directions are
// written so that an exported notebook is a fixed point: importing it and
// exporting again gives the same bytes (FuzzJupyterRoundTrip).

// commentPrefix is the line comment of a notebook language.
func commentPrefix(lang kiln.Language) string {
	switch lang {
	case kiln.LanguageSQL:
		return "--"
	case kiln.LanguageScala:
		return "//"
	default: // Python, R
		return "#"
	}
}

func notebookHeader(lang kiln.Language) string {
	return commentPrefix(lang) + " Databricks notebook source"
}

func commandSeparator(lang kiln.Language) string { return commentPrefix(lang) + " COMMAND ----------" }

func magicPrefix(lang kiln.Language) string { return commentPrefix(lang) + " MAGIC" }

// fileTypeOf is the export file_type of a notebook language.
func fileTypeOf(lang kiln.Language) string {
	switch lang {
	case kiln.LanguageSQL:
		return "sql"
	case kiln.LanguageScala:
		return "scala"
	case kiln.LanguageR:
		return "r"
	default:
		return "py"
	}
}

// languageOfExt maps a notebook file extension (lower case, with the dot)
// to its language; "" for any other extension.
func languageOfExt(ext string) kiln.Language {
	switch strings.ToLower(ext) {
	case ".py":
		return kiln.LanguagePython
	case ".sql":
		return kiln.LanguageSQL
	case ".scala":
		return kiln.LanguageScala
	case ".r":
		return kiln.LanguageR
	}
	return ""
}

// firstLine returns the first line of b without a UTF-8 byte order mark,
// carriage return or trailing blanks.
func firstLine(b []byte) string {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return strings.TrimRight(string(b), " \t\r")
}

// headerLanguage returns the language whose SOURCE header starts b, ""
// when b does not start with one. "#" is Python unless the extension says
// R.
func headerLanguage(b []byte, ext string) kiln.Language {
	switch firstLine(b) {
	case notebookHeader(kiln.LanguagePython):
		if languageOfExt(ext) == kiln.LanguageR {
			return kiln.LanguageR
		}
		return kiln.LanguagePython
	case notebookHeader(kiln.LanguageSQL):
		return kiln.LanguageSQL
	case notebookHeader(kiln.LanguageScala):
		return kiln.LanguageScala
	}
	return ""
}

// withHeader returns src starting with the SOURCE header of lang: as is
// when it has it, else with the header line prepended. Databricks exports
// every notebook with its header, and the header is what makes an AUTO
// import of an exported notebook a notebook again.
func withHeader(src []byte, lang kiln.Language) []byte {
	h := notebookHeader(lang)
	if firstLine(src) == h {
		return src
	}
	out := make([]byte, 0, len(h)+1+len(src))
	out = append(out, h...)
	out = append(out, '\n')
	return append(out, src...)
}

// ipynb is the part of a Jupyter notebook (nbformat 4) kiln reads.
type ipynb struct {
	Cells    *[]ipynbCell `json:"cells"`
	Metadata struct {
		LanguageInfo struct {
			Name string `json:"name"`
		} `json:"language_info"`
		Kernelspec struct {
			Language string `json:"language"`
		} `json:"kernelspec"`
	} `json:"metadata"`
}

type ipynbCell struct {
	CellType string `json:"cell_type"`
	// Source is a string or a list of strings (lines), per nbformat.
	Source json.RawMessage `json:"source"`
}

// text returns the cell's source as one string.
func (c ipynbCell) text() (string, bool) {
	src := bytes.TrimSpace(c.Source)
	if len(src) == 0 || string(src) == "null" {
		return "", true
	}
	var s string
	if json.Unmarshal(src, &s) == nil {
		return s, true
	}
	var lines []string
	if json.Unmarshal(src, &lines) == nil {
		return strings.Join(lines, ""), true
	}
	return "", false
}

// languageOfName maps a Jupyter language name to a notebook language; ""
// when kiln has no such notebook language.
func languageOfName(name string) kiln.Language {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "python", "python3", "python2":
		return kiln.LanguagePython
	case "sql":
		return kiln.LanguageSQL
	case "scala":
		return kiln.LanguageScala
	case "r":
		return kiln.LanguageR
	}
	return ""
}

// normalizeCell makes a cell's text canonical: "\n" line ends (carriage
// returns ending a line dropped), no leading or trailing empty lines.
func normalizeCell(s string) string {
	return strings.Trim(trimLineCRs(s), "\n")
}

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

// JupyterToSource converts a Jupyter notebook (.ipynb JSON) to a SOURCE
// notebook. The language is lang when set, else the notebook's own
// (metadata language_info.name or kernelspec.language), else Python. Code
// cells are copied (a code cell starting with a magic such as "%sql" is
// kept as MAGIC lines, as Databricks writes it); markdown and raw cells
// become "%md" MAGIC cells. Outputs are dropped. It fails with EInvalid
// when b is not a notebook.
func JupyterToSource(b []byte, lang kiln.Language) ([]byte, kiln.Language, error) {
	var nb ipynb
	if err := json.Unmarshal(b, &nb); err != nil || nb.Cells == nil {
		return nil, "", kiln.Errorf(kiln.EInvalid, "The content is not a Jupyter notebook: expected .ipynb JSON with a cells list.")
	}
	if lang == "" {
		lang = languageOfName(nb.Metadata.LanguageInfo.Name)
	}
	if lang == "" {
		lang = languageOfName(nb.Metadata.Kernelspec.Language)
	}
	if lang == "" {
		lang = kiln.LanguagePython
	}
	magic := magicPrefix(lang)
	cells := make([]string, 0, len(*nb.Cells))
	for i, c := range *nb.Cells {
		text, ok := c.text()
		if !ok {
			return nil, "", kiln.Errorf(kiln.EInvalid, "The content is not a Jupyter notebook: the source of cell %d is neither a string nor a list of strings.", i+1)
		}
		text = normalizeCell(text)
		switch {
		case c.CellType == "code" && !needsMagic(text, lang):
			cells = append(cells, text)
		case c.CellType == "code":
			cells = append(cells, magicLines(magic, text))
		default: // markdown, raw, anything else
			md := "%md"
			if text != "" {
				md += "\n" + text
			}
			cells = append(cells, magicLines(magic, md))
		}
	}
	var out strings.Builder
	out.WriteString(notebookHeader(lang))
	out.WriteByte('\n')
	out.WriteString(strings.Join(cells, "\n\n"+commandSeparator(lang)+"\n\n"))
	out.WriteByte('\n')
	return []byte(out.String()), lang, nil
}

// needsMagic reports whether a code cell must be stored as MAGIC lines:
// when it starts with a magic command ("%sql"), and also when stored as
// is it would read back differently: every line already a MAGIC line (it
// would lose one level of prefix) or a line that is a command separator
// (it would split the cell).
func needsMagic(text string, lang kiln.Language) bool {
	if strings.HasPrefix(text, "%") {
		return true
	}
	if _, ok := unmagic(text, magicPrefix(lang)); ok {
		return true
	}
	sep := commandSeparator(lang)
	for l := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(l) == sep {
			return true
		}
	}
	return false
}

// magicLines prefixes every line of text with magic ("# MAGIC").
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

// sourceCells splits a SOURCE notebook into its cells: the header line is
// dropped, command separator lines split, and each cell is normalised.
func sourceCells(src []byte, lang kiln.Language) []string {
	text := trimLineCRs(string(bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))))
	// JSON strings are UTF-8: replace invalid bytes here, once, rather
	// than let the encoder escape them differently from a real U+FFFD.
	text = strings.ToValidUTF8(text, "\uFFFD")
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && strings.TrimRight(lines[0], " \t\r") == notebookHeader(lang) {
		lines = lines[1:]
	}
	sep := commandSeparator(lang)
	var cells []string
	start := 0
	for i := 0; i <= len(lines); i++ {
		if i == len(lines) || strings.TrimSpace(lines[i]) == sep {
			cells = append(cells, normalizeCell(strings.Join(lines[start:i], "\n")))
			start = i + 1
		}
	}
	return cells
}

// unmagic returns the text of a cell whose every line is a MAGIC line,
// without the prefix, and whether it was one.
func unmagic(cell, magic string) (string, bool) {
	if cell == "" {
		return "", false
	}
	lines := strings.Split(cell, "\n")
	for i, l := range lines {
		switch {
		case l == magic:
			lines[i] = ""
		case strings.HasPrefix(l, magic+" "):
			lines[i] = l[len(magic)+1:]
		default:
			return "", false
		}
	}
	return strings.Join(lines, "\n"), true
}

// jupyterOut is an nbformat 4 notebook as kiln writes it.
type jupyterOut struct {
	Cells         []jupyterOutCell `json:"cells"`
	Metadata      map[string]any   `json:"metadata"`
	Nbformat      int              `json:"nbformat"`
	NbformatMinor int              `json:"nbformat_minor"`
}

type jupyterOutCell struct {
	CellType string `json:"cell_type"`
	// ExecutionCount is null in code cells and absent in markdown cells,
	// as nbformat requires.
	ExecutionCount json.RawMessage `json:"execution_count,omitempty"`
	Metadata       map[string]any  `json:"metadata"`
	Outputs        *[]any          `json:"outputs,omitempty"`
	Source         []string        `json:"source"`
}

// sourceLines splits text the nbformat way: every line keeps its "\n"
// except the last.
func sourceLines(text string) []string {
	if text == "" {
		return []string{}
	}
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// SourceToJupyter converts a SOURCE notebook in lang to a Jupyter notebook
// (nbformat 4 JSON): MAGIC cells starting with %md become markdown cells,
// other MAGIC cells code cells holding the magic ("%sql …"), the rest code
// cells.
func SourceToJupyter(src []byte, lang kiln.Language) []byte {
	magic := magicPrefix(lang)
	nb := jupyterOut{
		Cells: []jupyterOutCell{},
		Metadata: map[string]any{
			"language_info": map[string]any{"name": strings.ToLower(string(lang))},
		},
		Nbformat: 4, NbformatMinor: 0,
	}
	for _, cell := range sourceCells(src, lang) {
		text, isMagic := unmagic(cell, magic)
		if !isMagic {
			text = cell
		}
		// A %md cell is markdown whether written as MAGIC lines (as
		// Databricks does) or not: imported again, it would be anyway.
		if text == "%md" || strings.HasPrefix(text, "%md\n") || strings.HasPrefix(text, "%md ") {
			md := strings.TrimPrefix(text, "%md")
			md = normalizeCell(strings.TrimPrefix(md, " "))
			nb.Cells = append(nb.Cells, jupyterOutCell{CellType: "markdown", Metadata: map[string]any{}, Source: sourceLines(md)})
			continue
		}
		nb.Cells = append(nb.Cells, jupyterOutCell{
			CellType: "code", ExecutionCount: json.RawMessage("null"), Metadata: map[string]any{}, Outputs: &[]any{},
			Source: sourceLines(normalizeCell(text)),
		})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(nb); err != nil {
		panic(err) // strings, maps and slices always encode
	}
	return buf.Bytes()
}
