package runner

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kiln-dev/kiln"
)

// RemoveOrphanFiles is the package's RemoveOrphanFiles over this runner's
// store, data directory and task directory.
func (r *Runner) RemoveOrphanFiles(ctx context.Context) (int, error) {
	return RemoveOrphanFiles(ctx, r.store, r.cfg.DataDir, r.cfg.TaskDir)
}

// RemoveOrphanFiles removes the files this server keeps for runs that no
// longer exist in store (pruned under kilnRunRetentionDays, or deleted
// with runs/delete): each attempt's full log under dataDir/runs/<run id>,
// and the attempt directories under taskDir that KeepTaskDirs kept
// (run-<run id>-task-…). A run that exists keeps everything, so nothing a
// live run needs is touched; names kiln did not write are left alone. It
// returns how many runs' files it removed.
func RemoveOrphanFiles(ctx context.Context, store kiln.Store, dataDir, taskDir string) (int, error) {
	byRun := map[int64][]string{}
	collect := func(dir string, runOf func(name string) (int64, bool)) error {
		entries, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			if id, ok := runOf(e.Name()); ok && e.IsDir() {
				byRun[id] = append(byRun[id], filepath.Join(dir, e.Name()))
			}
		}
		return nil
	}
	if err := collect(filepath.Join(dataDir, "runs"), parseRunID); err != nil {
		return 0, err
	}
	if taskDir != "" {
		err := collect(taskDir, func(name string) (int64, bool) {
			rest, ok := strings.CutPrefix(name, "run-")
			if !ok {
				return 0, false
			}
			id, _, ok := strings.Cut(rest, "-task-")
			if !ok {
				return 0, false
			}
			return parseRunID(id)
		})
		if err != nil {
			return 0, err
		}
	}
	gone := []int64{}
	err := store.View(ctx, func(tx kiln.Tx) error {
		for id := range byRun {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			switch _, err := tx.Run(id); {
			case kiln.IsCode(err, kiln.ENotFound):
				gone = append(gone, id)
			case err != nil:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, id := range gone {
		for _, dir := range byRun[id] {
			if err := removeTree(dir); err != nil {
				return 0, err
			}
		}
	}
	return len(gone), nil
}

// parseRunID reads a run id written as a directory name; anything else
// (a name kiln did not write) is not one.
func parseRunID(name string) (int64, bool) {
	id, err := strconv.ParseInt(name, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == name
}
