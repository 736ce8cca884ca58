package runner

import (
	"path"
	"strings"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/notebook"
)

// cell is one notebook cell the runtime executes, numbered from 1 within
// the notebook it comes from (which %run may make another one).
type cell struct {
	Notebook string `json:"notebook"`
	Index    int    `json:"index"`
	Source   string `json:"source"`
	// Kind is "shell" for a %sh cell, whose Source is a shell script the
	// runtime hands to /bin/sh -c; empty for Python.
	Kind string `json:"kind,omitempty"`
}

// maxRunDepth bounds nested %run: deeper is almost surely a cycle the
// path check missed (the same notebook under two spellings).
const maxRunDepth = 8

// loadNotebook reads a workspace notebook: its language and SOURCE text.
type loadNotebook func(path string) (kiln.Language, []byte, error)

// notebookCells splits the Python SOURCE notebook at nbPath into the
// cells to execute. The cells are the notebook package's (titles dropped,
// MAGIC lines read); empty cells are skipped and not numbered; a cell
// with a magic command is run by it: %md and %md-sandbox cells are
// documentation and skipped, a %python cell runs, a %sh cell runs its
// lines with /bin/sh in the task's sandbox (a non-zero status fails the
// task), "%run <path>" runs that notebook's cells in place (a relative
// path is resolved against the notebook's directory), and any other magic
// (%scala, %r, %sql, %pip, …) fails the task with a message naming the
// cell, before any cell runs. Any other cell is Python and runs.
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
	index := 0
	for _, nc := range notebook.Split(src, lang) {
		if strings.TrimSpace(nc.Text) == "" {
			continue // empty cells are not numbered
		}
		index++
		c := cell{Notebook: nbPath, Index: index}
		cmd, arg, body, ok := nc.Magic()
		if !ok {
			c.Source = nc.Text + "\n"
			out = append(out, c)
			continue
		}
		switch cmd {
		case "%md", "%md-sandbox":
			continue
		case "%python":
			c.Source = magicBody(arg, body)
			out = append(out, c)
		case "%sh":
			c.Kind, c.Source = "shell", magicBody(arg, body)
			out = append(out, c)
		case "%run":
			target, err := runTarget(nbPath, arg, c.Index)
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

// pythonSource is the code of a %python cell: any code on the command
// line ("%python x = 1"), then the cell's other lines.
func magicBody(arg, body string) string {
	var lines []string
	for _, l := range []string{arg, body} {
		if l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
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
