// Command rss measures the memory of a real `kiln serve` process, as the
// kernel counts it (VmRSS and VmHWM of /proc/<pid>/status): idle after
// the first start and after a restart on the same data directory, then
// during and after a flood of concurrent wrong-password sign-ins on the
// console, each from its own loopback address so that the sign-in throttle
// does not turn them away before the password is checked. Half name the
// admin (a known user, a real argon2id verification), half unknown users
// (the equalising hash).
//
//	go run ./bench/rss [-kiln path] [-logins 50] [-rounds 3] [-settle 5s]
//
// Without -kiln it builds ./cmd/kiln first. docs/benchmarks.md holds the
// figures of the last run. Linux only (/proc).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/kiln-dev/kiln/internal/benchproc"
)

var (
	kilnBin = flag.String("kiln", "", "kiln binary to measure (default: build ./cmd/kiln)")
	logins  = flag.Int("logins", 50, "concurrent wrong-password sign-ins per round")
	rounds  = flag.Int("rounds", 3, "rounds of the sign-in flood, back to back")
	settle  = flag.Duration("settle", 5*time.Second, "wait before reading idle memory, and after the flood")
)

const adminEmail = benchproc.AdminEmail

func main() {
	flag.Parse()
	log.SetFlags(0)
	work, err := os.MkdirTemp("", "kiln-bench-rss-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	bin := benchproc.Binary(*kilnBin, work)
	dataDir := filepath.Join(work, "data")
	fmt.Printf("kiln memory: %d cores, %s; %d concurrent wrong-password sign-ins x %d rounds; idle read %v after ready\n\n",
		runtime.NumCPU(), runtime.Version(), *logins, *rounds, *settle)
	fmt.Println("| phase | VmRSS | VmHWM (peak so far) | note |")
	fmt.Println("|---|---:|---:|---|")

	// First start: initialises the data directory (one argon2id hash of
	// the first admin's password).
	k := start(bin, dataDir)
	time.Sleep(*settle)
	k.row("idle after first start", "")
	k.Stop()

	// Restart on the initialised directory: what a server sits at.
	k = start(bin, dataDir)
	time.Sleep(*settle)
	k.row("idle after restart", "")

	var peak int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // VmHWM already holds the peak; the samples confirm it
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(10 * time.Millisecond):
				if rss, _ := k.Mem(); rss > peak {
					peak = rss
				}
			}
		}
	}()
	began := time.Now()
	statuses := map[int]int{}
	for r := range *rounds {
		for code, n := range k.flood(r) {
			statuses[code] += n
		}
	}
	took := time.Since(began)
	close(stopSampling)
	<-sampled
	k.row("right after the flood", fmt.Sprintf("%d sign-ins in %v (%.1f/s), answers %v; highest sampled VmRSS %s",
		*logins**rounds, took.Round(time.Millisecond), float64(*logins**rounds)/took.Seconds(), statuses, benchproc.MiB(peak)))
	time.Sleep(*settle)
	k.row(fmt.Sprintf("%v after the flood", *settle), "")
	k.Stop()
}

// kiln is the measured server, with the rows and the flood of this
// benchmark.
type kiln struct{ *benchproc.Server }

func start(bin, dataDir string) kiln { return kiln{benchproc.Start(bin, dataDir)} }

func (k kiln) row(phase, note string) {
	rss, hwm := k.Mem()
	fmt.Printf("| %s | %s | %s | %s |\n", phase, benchproc.MiB(rss), benchproc.MiB(hwm), note)
}

// flood sends the sign-ins of one round at once and counts the statuses.
func (k kiln) flood(round int) map[int]int {
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	startGun := make(chan struct{})
	for i := range *logins {
		email := fmt.Sprintf("nobody-%d-%d@example.com", round, i)
		if i%2 == 0 {
			email = adminEmail
		}
		// Each sign-in from its own address of 127.0.0.0/8: the console
		// throttles failures per address (and per email: the admin's
		// budget of 20 is spent within the first round, after which its
		// attempts are refused before the password is checked).
		local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(round+1), byte(2+i))}
		client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
			DialContext:       (&net.Dialer{LocalAddr: local}).DialContext,
			DisableKeepAlives: true,
		}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGun
			form := url.Values{"email": {email}, "password": {"not-the-password-at-all"}}
			req, _ := http.NewRequestWithContext(context.Background(), "POST", k.URL+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			code := 0
			if resp, err := client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			statuses[code]++
			mu.Unlock()
		}()
	}
	close(startGun)
	wg.Wait()
	return statuses
}
