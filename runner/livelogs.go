package runner

import (
	"context"
	"sync"
	"time"

	"github.com/kiln-dev/kiln"
)

// secretList collects the secret values a task was handed, so that logs
// published while it runs are redacted like its final logs.
type secretList struct {
	mu   sync.Mutex
	vals []string
}

func (l *secretList) add(v string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.vals = append(l.vals, v)
}

func (l *secretList) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.vals...)
}

// publishLogs writes the task's logs so far to the store every
// LogPublish while it runs, whenever it printed something new: runs/
// get-output, the console's run page and `kiln runs logs --follow` then show
// a running task's output from any replica, bounded and redacted exactly as
// the final logs are. The returned func stops publishing and waits; the
// final logs are written with the task's outcome.
//
// A write costs one small transaction per running task and interval at
// most, and none for a quiet task.
func (r *Runner) publishLogs(taskID int64, capture *logCapture, secrets *secretList) (stop func()) {
	ctx, cancel := context.WithCancel(r.base)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.cfg.LogPublish)
		defer t.Stop()
		var published int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			total := capture.Total()
			if total == published {
				continue
			}
			text, cut := capture.Text()
			logs := cleanText(text, secrets.list())
			err := r.store.Update(ctx, func(tx kiln.Tx) error {
				return tx.RecordTaskLogs(taskID, r.owner, logs, cut)
			})
			switch {
			case err == nil:
				published = total
			case kiln.IsCode(err, kiln.ENotFound):
				return // the lease is gone: the renewer ends the task
			case ctx.Err() == nil:
				r.log.Warn("publishing a running task's logs", "task_run_id", taskID, "err", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
