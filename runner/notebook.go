package runner

import (
	"path"
	"strings"

	"github.com/kiln-dev/kiln"
)

// cell is one notebook cell the runtime executes, numbered from 1 within
// the notebook it comes from (which %run may make another one).
type cell struct {
	Notebook string `json:"notebook"`
	Index    int    `json:"index"`
	Source   string `json:"source"`
}

// Lines of the Python SOURCE format (see service/notebook.go).
const (
	sourceHeader     = "# Databricks notebook source"
	commandSeparator = "# COMMAND ----------"
	magicPrefix      = "# MAGIC"
	titlePrefix      = "# DBTITLE"
)

// maxRunDepth bounds nested %run: deeper is almost surely a cycle the
// path check missed (the same notebook under two spellings).
const maxRunDepth = 8

// loadNotebook reads a workspace notebook: its language and SOURCE text.
type loadNotebook func(path string) (kiln.Language, []byte, error)

// notebookCells splits the Python SOURCE notebook at nbPath into the
// cells to execute:
//
//   - cells are separated by "# COMMAND ----------" lines;
//   - "# DBTITLE" lines are dropped;
//   - a cell of "# MAGIC" lines is a magic cell: %md and %md-sandbox cells
//     are documentation and skipped, a %python cell runs, "%run <path>"
//     runs that notebook's cells in place (a relative path is resolved
//     against the notebook's directory), and any other magic (%scala, %r,
//     %sql, %sh, %pip, …) fails the task with a message naming the cell,
//     before any cell runs.
//
// Errors are EInvalid with a message for the run's state_message.
func notebookCells(nbPath string, load loadNotebook) ([]cell, error) {
	return expandNotebook(nbPath, load, nil)
}

func expandNotebook(nbPath string, load loadNotebook, stack []string) ([]cell, error) {
	for _, p := range stack {
		if p == nbPath {
			return nil, kiln.Errorf(kiln.EInvalid, "Notebook %s runs itself through %%run (%s).", nbPath, strings.Join(append(stack, nbPath), " -> "))
		}
	}
	if len(stack) >= maxRunDepth {
		return nil, kiln.Errorf(kiln.EInvalid, "%%run is nested more than %d deep at %s.", maxRunDepth, nbPath)
	}
	lang, src, err := load(nbPath)
	if err != nil {
		return nil, err
	}
	if lang != kiln.LanguagePython {
		return nil, kiln.Errorf(kiln.EInvalid, "Notebook %s is a %s notebook: kiln runs Python notebooks only.", nbPath, lang)
	}
	stack = append(stack, nbPath)
	var out []cell
	for i, raw := range splitCells(string(src)) {
		c := cell{Notebook: nbPath, Index: i + 1}
		magic, body, ok := magicOf(raw)
		if !ok {
			c.Source = raw
			out = append(out, c)
			continue
		}
		cmd, arg, _ := strings.Cut(strings.TrimSpace(magic), " ")
		switch cmd {
		case "%md", "%md-sandbox":
			continue
		case "%python":
			c.Source = strings.TrimPrefix(strings.TrimSpace(arg)+"\n", "\n") + body
			out = append(out, c)
		case "%run":
			target, err := runTarget(nbPath, strings.TrimSpace(arg), c.Index)
			if err != nil {
				return nil, err
			}
			sub, err := expandNotebook(target, load, stack)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		default:
			return nil, kiln.Errorf(kiln.EInvalid, "Cell %d of notebook %s is a %s cell, which kiln cannot run: kiln runs Python cells (and skips %%md cells).", c.Index, nbPath, cmd)
		}
	}
	return out, nil
}

// splitCells returns the text of each cell, header and titles removed.
func splitCells(src string) []string {
	src = strings.ReplaceAll(strings.TrimPrefix(src, "\ufeff"), "\r\n", "\n")
	lines := strings.Split(src, "\n")
	if len(lines) > 0 && strings.TrimRight(lines[0], " \t") == sourceHeader {
		lines = lines[1:]
	}
	var cells []string
	var cur []string
	flush := func() {
		text := strings.Trim(strings.Join(cur, "\n"), "\n")
		if strings.TrimSpace(text) != "" {
			cells = append(cells, text+"\n")
		}
		cur = cur[:0]
	}
	for _, l := range lines {
		switch {
		case strings.TrimRight(l, " \t") == commandSeparator:
			flush()
		case strings.HasPrefix(l, titlePrefix):
		default:
			cur = append(cur, l)
		}
	}
	flush()
	return cells
}

// magicOf reports whether a cell is a magic cell and returns its magic
// line ("%md …") and the rest of its lines, "# MAGIC" prefixes removed.
func magicOf(text string) (magic, body string, ok bool) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if !strings.HasPrefix(lines[0], magicPrefix) {
		return "", "", false
	}
	strip := func(l string) string {
		l = strings.TrimPrefix(l, magicPrefix)
		return strings.TrimPrefix(l, " ")
	}
	magic = strip(lines[0])
	if !strings.HasPrefix(magic, "%") {
		return "", "", false
	}
	var b strings.Builder
	for _, l := range lines[1:] {
		b.WriteString(strip(l))
		b.WriteByte('\n')
	}
	return magic, b.String(), true
}

// runTarget resolves the path of a %run against the running notebook.
func runTarget(nbPath, arg string, index int) (string, error) {
	if arg == "" {
		return "", kiln.Errorf(kiln.EInvalid, "Cell %d of notebook %s: %%run needs a notebook path.", index, nbPath)
	}
	if strings.ContainsAny(arg, " \t$") {
		return "", kiln.Errorf(kiln.EInvalid, "Cell %d of notebook %s: kiln's %%run takes a notebook path without arguments.", index, nbPath)
	}
	arg = strings.Trim(arg, `"'`)
	if !strings.HasPrefix(arg, "/") {
		arg = path.Join(path.Dir(nbPath), arg)
	}
	return path.Clean(arg), nil
}
