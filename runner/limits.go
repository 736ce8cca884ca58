package runner

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln/sandbox"
)

// Limits a task can run into, as the shim names them; the output limit
// and CPU time are noticed by the runner itself.
const (
	limitMemory    = "memory"
	limitProcesses = "processes"
	limitOpenFiles = "open_files"
	limitFileSize  = "file_size"
	limitCPU       = "cpu_time"
	limitOutput    = "output"
)

// knownLimits are the names the shim may report.
var knownLimits = map[string]bool{limitMemory: true, limitProcesses: true, limitOpenFiles: true, limitFileSize: true}

// errOutputLimit ends a task that printed more than Config.MaxOutput.
var errOutputLimit = errors.New("the task exceeded its output limit")

// limitOf names the limit a finished process ran into, "" for none.
func limitOf(res procResult) string {
	switch {
	case res.limit != "":
		return res.limit
	case res.signal == syscall.SIGXCPU:
		return limitCPU
	case res.signal == syscall.SIGXFSZ:
		return limitFileSize
	}
	return ""
}

// limitMessage is the state message of a task stopped by a limit: which
// limit, its value, and the flag that sets it.
func limitMessage(limit string, l sandbox.Limits, maxOutput int64) string {
	switch limit {
	case limitMemory:
		return fmt.Sprintf("The task ran out of memory: each of its processes may use %s (--task-memory).", sandbox.BytesText(l.MemoryBytes))
	case limitProcesses:
		return fmt.Sprintf("The task reached its limit of %d processes and threads (--task-processes).", l.Processes)
	case limitOpenFiles:
		return fmt.Sprintf("The task reached its limit of %d open files per process (--task-open-files).", l.OpenFiles)
	case limitFileSize:
		return fmt.Sprintf("The task tried to write a file larger than its limit of %s (--task-file-size).", sandbox.BytesText(l.FileSizeBytes))
	case limitCPU:
		return fmt.Sprintf("The task used up its CPU time limit of %s per process (--task-cpu-time).", time.Duration(l.CPUSeconds)*time.Second)
	case limitOutput:
		return fmt.Sprintf("The task wrote more than its limit of %s of output and was stopped (--task-max-output).", sandbox.BytesText(maxOutput))
	}
	return ""
}
