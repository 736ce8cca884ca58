package notebook

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/kiln-dev/kiln"
)

// databricksCell is the key of the cell metadata Databricks writes into
// the Jupyter notebooks it exports; kiln reads and writes its title and
// showTitle, a cell's DBTITLE line.
const databricksCell = "application/vnd.databricks.v1+cell"

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
	// Metadata is read only for the title, and only when it has the
	// shape Databricks writes: other metadata does not fail an import.
	Metadata json.RawMessage `json:"metadata"`
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

// title returns the cell's Databricks title, "" when it has none or its
// metadata is not as Databricks writes it.
func (c ipynbCell) title() (title string, show bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(c.Metadata, &m) != nil {
		return "", false
	}
	var d struct {
		Title     string `json:"title"`
		ShowTitle bool   `json:"showTitle"`
	}
	if json.Unmarshal(m[databricksCell], &d) != nil {
		return "", false
	}
	return d.Title, d.ShowTitle
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

// JupyterToSource converts a Jupyter notebook (.ipynb JSON) to a SOURCE
// notebook and returns it with its language: lang when set, else the
// notebook's own (metadata language_info.name or kernelspec.language),
// else Python. Code cells are copied (one starting with a magic such as
// "%sql" is written as MAGIC lines, as Databricks writes it); markdown
// and raw cells become "%md" cells; a Databricks cell title (metadata
// application/vnd.databricks.v1+cell) becomes a DBTITLE line. Outputs are
// dropped. It fails with EInvalid when b is not a notebook.
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
	cells := make([]Cell, 0, len(*nb.Cells))
	for i, c := range *nb.Cells {
		text, ok := c.text()
		if !ok {
			return nil, "", kiln.Errorf(kiln.EInvalid, "The content is not a Jupyter notebook: the source of cell %d is neither a string nor a list of strings.", i+1)
		}
		text = normalize(text)
		if c.CellType != "code" { // markdown, raw, anything else
			text = strings.TrimSuffix("%md\n"+text, "\n")
		}
		title, show := c.title()
		cells = append(cells, Cell{Title: title, ShowTitle: show, Text: text})
	}
	return join(cells, lang), lang, nil
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

// markdown returns the markdown of a %md cell, and whether c is one.
// A cell is markdown whether written as MAGIC lines (as Databricks does)
// or not: imported again, it would be anyway.
func (c Cell) markdown() (string, bool) {
	cmd, arg, body, ok := c.Magic()
	if !ok || cmd != "%md" {
		return "", false
	}
	if arg != "" {
		body = arg + "\n" + body
	}
	return normalize(body), true
}

// SourceToJupyter converts a SOURCE notebook in lang to a Jupyter notebook
// (nbformat 4 JSON): %md cells become markdown cells, other magic cells
// code cells holding the magic ("%sql …"), the rest code cells; a title
// goes to the cell's Databricks metadata. JupyterToSource reads the
// result back to the same cells, so that an export imported and exported
// again gives the same bytes.
func SourceToJupyter(src []byte, lang kiln.Language) []byte {
	nb := jupyterOut{
		Cells: []jupyterOutCell{},
		Metadata: map[string]any{
			"language_info": map[string]any{"name": strings.ToLower(string(lang))},
		},
		Nbformat: 4, NbformatMinor: 0,
	}
	for _, c := range Split(src, lang) {
		meta := map[string]any{}
		if c.Title != "" {
			meta[databricksCell] = map[string]any{"title": c.Title, "showTitle": c.ShowTitle}
		}
		if md, ok := c.markdown(); ok {
			nb.Cells = append(nb.Cells, jupyterOutCell{CellType: "markdown", Metadata: meta, Source: sourceLines(md)})
			continue
		}
		nb.Cells = append(nb.Cells, jupyterOutCell{
			CellType: "code", ExecutionCount: json.RawMessage("null"), Metadata: meta, Outputs: &[]any{},
			Source: sourceLines(c.Text),
		})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(nb); err != nil {
		panic(err) // strings, bools, maps and slices always encode
	}
	return buf.Bytes()
}
