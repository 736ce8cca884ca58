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
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	kilnBin = flag.String("kiln", "", "kiln binary to measure (default: build ./cmd/kiln)")
	logins  = flag.Int("logins", 50, "concurrent wrong-password sign-ins per round")
	rounds  = flag.Int("rounds", 3, "rounds of the sign-in flood, back to back")
	settle  = flag.Duration("settle", 5*time.Second, "wait before reading idle memory, and after the flood")
)

const adminEmail = "admin@example.com"

func main() {
	flag.Parse()
	log.SetFlags(0)
	work, err := os.MkdirTemp("", "kiln-bench-rss-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	bin := *kilnBin
	if bin == "" {
		bin = filepath.Join(work, "kiln")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/kiln").CombinedOutput(); err != nil {
			log.Fatalf("building kiln: %v\n%s", err, out)
		}
	}
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
	k.stop()

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
				if rss, _ := k.mem(); rss > peak {
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
		*logins**rounds, took.Round(time.Millisecond), float64(*logins**rounds)/took.Seconds(), statuses, mib(peak)))
	time.Sleep(*settle)
	k.row(fmt.Sprintf("%v after the flood", *settle), "")
	k.stop()
}

type kiln struct {
	cmd  *exec.Cmd
	url  string
	addr string
}

func start(bin, dataDir string) *kiln {
	addr := freeAddr()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "KILN_ADMIN_EMAIL="+adminEmail, "KILN_ADMIN_PASSWORD=admin-password-123")
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	k := &kiln{cmd: cmd, url: "http://" + addr, addr: addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(k.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return k
			}
		}
		if time.Now().After(deadline) {
			log.Fatalf("kiln did not become ready:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (k *kiln) stop() {
	k.cmd.Process.Signal(syscall.SIGTERM)
	k.cmd.Wait()
}

// mem reads VmRSS and VmHWM, in bytes.
func (k *kiln) mem() (rss, hwm int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", k.cmd.Process.Pid))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			log.Fatalf("%s: %q", name, v)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm
}

func (k *kiln) row(phase, note string) {
	rss, hwm := k.mem()
	fmt.Printf("| %s | %s | %s | %s |\n", phase, mib(rss), mib(hwm), note)
}

// flood sends the sign-ins of one round at once and counts the statuses.
func (k *kiln) flood(round int) map[int]int {
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
			req, _ := http.NewRequestWithContext(context.Background(), "POST", k.url+"/login", strings.NewReader(form.Encode()))
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

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
