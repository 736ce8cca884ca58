package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// HardenServer protects the running server from the programs it starts:
// it makes the process non-dumpable (its /proc entries, memory and
// environment are then closed to every other process of the same user,
// and it leaves no core file), and it removes the named variables from
// its environment: from the Go environment and also from the copy the
// kernel shows in /proc/<pid>/environ, which unsetting alone leaves in
// place. Call it once the server has read them.
func HardenServer(secretVars ...string) error {
	for _, name := range secretVars {
		os.Unsetenv(name)
	}
	scrubErr := scrubInitialEnv(secretVars)
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("making the server non-dumpable: %w", err)
	}
	return scrubErr
}

// scrubInitialEnv overwrites the values of the named variables in the
// environment block the process was started with, found through the
// env_start and env_end fields of /proc/self/stat.
func scrubInitialEnv(names []string) error {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return err
	}
	// The command name may hold spaces: fields count from after its ")".
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return fmt.Errorf("unexpected /proc/self/stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// Fields 50 and 51 of stat(5); fields[0] here is field 3.
	if len(fields) < 49 {
		return fmt.Errorf("/proc/self/stat lacks env_start and env_end")
	}
	start, err1 := strconv.ParseUint(fields[47], 10, 64)
	end, err2 := strconv.ParseUint(fields[48], 10, 64)
	if err1 != nil || err2 != nil || end <= start || end-start > 16<<20 {
		return fmt.Errorf("unexpected environment bounds in /proc/self/stat")
	}
	mem, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer mem.Close()
	block := make([]byte, end-start)
	if _, err := mem.ReadAt(block, int64(start)); err != nil {
		return err
	}
	changed := false
	off := 0
	for _, entry := range bytes.Split(block, []byte{0}) {
		for _, name := range names {
			if bytes.HasPrefix(entry, []byte(name+"=")) {
				for j := off + len(name) + 1; j < off+len(entry); j++ {
					block[j] = 0
				}
				changed = true
			}
		}
		off += len(entry) + 1
	}
	if !changed {
		return nil
	}
	_, err = mem.WriteAt(block, int64(start))
	return err
}
