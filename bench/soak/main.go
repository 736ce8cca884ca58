// Command soak measures what bounded growth buys: a data directory with
// 10,000 finished runs (each a task with 4 KiB of logs and its log file)
// and 100,000 token change notices, all 90 days old, against a fresh one
// (the baseline, measured in the same run): the database's size and the
// idle memory of a real `kiln serve` on it (VmRSS after start and after
// listing the newest 1,000 runs through the API), before and after
// `kiln admin vacuum` prunes it under the default retention (60 days of
// runs, 24 hours of change notices).
//
//	go run ./bench/soak [-kiln path] [-runs 10000] [-changes 100000]
//
// Without -kiln it builds ./cmd/kiln first. docs/benchmarks.md holds the
// figures of the last run. Linux only (/proc).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-dev/kiln"
	"github.com/kiln-dev/kiln/internal/benchproc"
	"github.com/kiln-dev/kiln/sqlstore"
)

var (
	kilnBin = flag.String("kiln", "", "kiln binary to measure (default: build ./cmd/kiln)")
	nRuns   = flag.Int("runs", 10000, "finished runs to seed")
	nChange = flag.Int("changes", 100000, "token change notices to seed")
)

const adminEmail = benchproc.AdminEmail

func main() {
	flag.Parse()
	log.SetFlags(0)
	work, err := os.MkdirTemp("", "kiln-bench-soak-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	bin := benchproc.Binary(*kilnBin, work)

	fresh := filepath.Join(work, "fresh")
	soaked := filepath.Join(work, "soaked")
	for _, dir := range []string{fresh, soaked} {
		initialise(bin, dir)
	}
	base := measure(bin, fresh)

	started := time.Now()
	seed(soaked)
	seeded := time.Since(started)
	before := measure(bin, soaked)

	started = time.Now()
	out := kilnAdmin(bin, soaked, "vacuum")
	vacuumed := time.Since(started)
	after := measure(bin, soaked)

	fmt.Printf("seeded %d runs and %d change notices in %v; kiln admin vacuum took %v:\n  %s\n\n",
		*nRuns, *nChange, seeded.Round(time.Millisecond), vacuumed.Round(time.Millisecond), strings.ReplaceAll(strings.TrimSpace(out), "\n", "\n  "))
	fmt.Println("| data directory | kiln.db | run log files | VmRSS idle | VmRSS after listing 1,000 runs |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range []struct {
		name string
		m    figures
	}{{"fresh (baseline)", base}, {"soaked, before vacuum", before}, {"soaked, after vacuum", after}} {
		fmt.Printf("| %s | %s (%.1fx) | %s | %s (%.2fx) | %s (%.2fx) |\n", r.name,
			benchproc.MiB(r.m.db), ratio(r.m.db, base.db), benchproc.MiB(r.m.logs),
			benchproc.MiB(r.m.idle), ratio(r.m.idle, base.idle), benchproc.MiB(r.m.listed), ratio(r.m.listed, base.listed))
	}
}

type figures struct{ db, logs, idle, listed int64 }

// initialise starts and stops kiln on dir, so that it holds a workspace,
// and switches tokens on (for the measurements' API calls).
func initialise(bin, dir string) {
	k := benchproc.Start(bin, dir)
	k.Stop()
	kilnAdmin(bin, dir, "conf", "set", "enableTokensConfig=true")
}

// seed writes the runs and notices straight into the store, on a clock
// 90 days back, so that they are past the default retention.
func seed(dir string) {
	ctx := context.Background()
	old := time.Now().Add(-90 * 24 * time.Hour)
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "kiln.db"), sqlstore.WithClock(func() time.Time { return old }))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	var owner int64
	if err := st.View(ctx, func(tx kiln.Tx) error {
		p, err := tx.PrincipalByName(adminEmail)
		if err == nil {
			owner = p.ID
		}
		return err
	}); err != nil {
		log.Fatal(err)
	}
	logs := strings.Repeat("a line of task output, as a notebook prints it\n", 4096/48)
	const batch = 200
	for done := 0; done < *nRuns; done += batch {
		err := st.Update(ctx, func(tx kiln.Tx) error {
			for i := range min(batch, *nRuns-done) {
				r := &kiln.Run{OwnerID: owner, RunName: fmt.Sprintf("nightly-%d", done+i), RunType: kiln.RunTypeSubmit, Spec: []byte(`{}`),
					Tasks: []*kiln.TaskRun{{TaskKey: "etl", Definition: []byte(`{"task_key":"etl"}`),
						Exec: kiln.TaskExec{Kind: kiln.ExecNotebook, Path: "/Shared/etl"}}}}
				if err := tx.CreateRun(r); err != nil {
					return err
				}
			}
			for {
				_, task, err := tx.ClaimTask(kiln.Claim{Owner: "soak/1", LeaseUntil: old.Add(time.Hour)})
				if err != nil || task == nil {
					return err
				}
				// Each attempt's full log, as the runner keeps it.
				logDir := filepath.Join(dir, "runs", strconv.FormatInt(task.RunID, 10), strconv.FormatInt(task.ID, 10), "attempt-0")
				if err := os.MkdirAll(logDir, 0o700); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(logDir, "output.log"), []byte(logs), 0o600); err != nil {
					return err
				}
				if err := tx.FinishTask(task.ID, "soak/1", kiln.TaskOutcome{LifeCycleState: kiln.LifeCycleTerminated,
					ResultState: kiln.ResultSuccess, Logs: logs}); err != nil {
					return err
				}
			}
		})
		if err != nil {
			log.Fatalf("seeding runs: %v", err)
		}
	}
	for done := 0; done < *nChange; done += 1000 {
		err := st.Update(ctx, func(tx kiln.Tx) error {
			for i := range min(1000, *nChange-done) {
				if err := tx.Notify(kiln.ChangeToken, fmt.Sprintf("%064x", done+i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			log.Fatalf("seeding changes: %v", err)
		}
	}
}

// measure reads the database's size and the run log files on dir, then
// starts kiln on it and reads its memory, idle and after listing runs.
func measure(bin, dir string) figures {
	var f figures
	for _, name := range []string{"kiln.db", "kiln.db-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
			f.db += fi.Size()
		}
	}
	filepath.Walk(filepath.Join(dir, "runs"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			f.logs += fi.Size()
		}
		return nil
	})
	tok := strings.TrimSpace(kilnAdmin(bin, dir, "tokens", "create", "--user", adminEmail, "--comment", "soak"))
	k := benchproc.Start(bin, dir)
	defer k.Stop()
	time.Sleep(2 * time.Second)
	f.idle, _ = k.Mem()
	for offset := 0; offset < 1000; offset += 25 {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/2.1/jobs/runs/list?limit=25&offset=%d", k.URL, offset), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		var page struct{ Runs []json.RawMessage }
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			log.Fatalf("runs/list: %d", resp.StatusCode)
		}
	}
	f.listed, _ = k.Mem()
	return f
}

func kilnAdmin(bin, dir string, args ...string) string {
	cmd := exec.Command(bin, append([]string{"admin", "--data-dir", dir}, args...)...)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		log.Fatalf("kiln admin %s: %v\n%s", strings.Join(args, " "), err, errs.String())
	}
	return out.String()
}

func ratio(n, base int64) float64 {
	if base == 0 {
		return 0
	}
	return float64(n) / float64(base)
}
