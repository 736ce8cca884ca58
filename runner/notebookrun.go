package runner

import (
	"context"
	"encoding/json"
	"path"
	"strings"

	"github.com/kiln-dev/kiln"
)

// notebookRequest is a dbutils.notebook.run call from the shim: Path is
// the notebook to run (relative to From, the notebook that calls).
type notebookRequest struct {
	Path string `json:"path"`
	From string `json:"from"`
}

// answerNotebook answers a dbutils.notebook.run call of run's task with
// the cells of the notebook it names, read as the run's owner (so a
// notebook the owner may not read is refused, as the task itself would
// be) and expanded as a notebook_task's are. The shim runs them in a
// fresh namespace with the call's arguments as widget values; doing it in
// the same sandboxed process, rather than as a run of its own, keeps the
// child under the task's limits and timeout.
func (r *Runner) answerNotebook(ctx context.Context, run *kiln.Run, line []byte) []byte {
	var req notebookRequest
	if json.Unmarshal(line, &req) != nil || strings.TrimSpace(req.Path) == "" {
		return errorLine(kiln.Errorf(kiln.EInvalid, "dbutils.notebook.run needs a notebook path."))
	}
	target := req.Path
	if !strings.HasPrefix(target, "/") {
		target = path.Join(path.Dir(req.From), target)
	}
	cells, err := notebookCells(path.Clean(target), func(p string) (kiln.Language, []byte, error) { return r.readNotebook(ctx, run.OwnerID, p) })
	if err != nil {
		return errorLine(err)
	}
	b, err := json.Marshal(map[string]any{"cells": cells})
	if err != nil {
		return errorLine(err)
	}
	return append(b, '\n')
}
