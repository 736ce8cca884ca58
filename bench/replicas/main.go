// Command replicas measures kiln with several replicas: the
// authenticated request throughput of one, two and three replicas on
// PostgreSQL against the same on SQLite (several processes on one data
// directory), the throughput of bad tokens on each (the cost of the index's
// miss refresh on a shared store), and how long a revocation made through
// one replica takes to be refused by the others (median and worst of 100).
//
// It starts everything itself on loopback: a durable throwaway PostgreSQL
// (internal/pgtest, fsync on, so that it compares with SQLite's
// synchronous=FULL), the kiln processes, and wrk (one wrk per replica, run
// together, connections split evenly; the sum is the cluster's rate).
//
//	go run ./bench/replicas [-duration 10s] [-conns 32] [-revocations 100]
//
// scripts/bench-replicas.sh installs wrk and PostgreSQL when missing and
// runs it; docs/benchmarks.md holds the figures of the last run.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-dev/kiln/internal/benchproc"
	"github.com/kiln-dev/kiln/internal/pgtest"
)

var (
	duration    = flag.Duration("duration", 10*time.Second, "length of each wrk run")
	conns       = flag.Int("conns", 32, "wrk connections in all, split over the replicas")
	revocations = flag.Int("revocations", 100, "revocations timed per store")
	only        = flag.String("only", "", "run only throughput or propagation")
)

const adminEmail = "admin@example.com"

var (
	work    string
	kilnBin string
	client  = &http.Client{Timeout: 10 * time.Second}
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	var err error
	if work, err = os.MkdirTemp("", "kiln-bench-replicas-"); err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	kilnBin = filepath.Join(work, "kiln")
	if out, err := exec.Command("go", "build", "-o", kilnBin, "./cmd/kiln").CombinedOutput(); err != nil {
		log.Fatalf("building kiln: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("wrk"); err != nil && *only != "propagation" {
		log.Fatal("wrk is not installed (scripts/bench-replicas.sh installs it)")
	}
	pg, err := pgtest.Start(context.Background(), pgtest.Options{Durable: true})
	if err != nil {
		log.Fatal(err)
	}
	defer pg.Close()

	fmt.Printf("kiln replicas benchmark: %d cores, %s, wrk -t1 -c%d (split) -d%v\n\n",
		runtime.NumCPU(), runtime.Version(), *conns, *duration)
	if *only != "propagation" {
		fmt.Println("| store | replicas | valid token, req/s | p50 | bad tokens, req/s | p50 |")
		fmt.Println("|---|---:|---:|---:|---:|---:|")
		row := func(name string, n int, c *cluster) {
			valid, vp50 := c.wrk(c.adminToken, 1)
			bad, bp50 := c.wrk("random", 1)
			fmt.Printf("| %s | %d | %.0f | %v | %.0f | %v |\n", name, n, valid, vp50, bad, bp50)
			c.close()
		}
		for _, store := range []string{"sqlite", "postgres"} {
			for n := 1; n <= 3; n++ {
				row(store, n, newCluster(pg, store, n))
			}
		}
		// The same without the unknown-token refresh, to show its cost.
		row("postgres, --unknown-token-refresh 0", 1, newCluster(pg, "postgres", 1, "KILN_UNKNOWN_TOKEN_REFRESH=0"))
		fmt.Println()
	}
	if *only != "throughput" {
		fmt.Printf("| store | revocations | median | worst | refused by |\n|---|---:|---:|---:|---|\n")
		for _, store := range []string{"sqlite", "postgres"} {
			c := newCluster(pg, store, 3)
			med, worst := c.propagation(*revocations)
			fmt.Printf("| %s | %d | %v | %v | replicas 1 and 3, revoked through 2 |\n", store, *revocations, med, worst)
			c.close()
		}
	}
}

// cluster is n kiln processes on one store.
type cluster struct {
	store      string
	env        []string
	urls       []string
	procs      []*exec.Cmd
	adminToken string
}

func newKey(path string) {
	b := make([]byte, 32)
	rand.Read(b)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
}

func newCluster(pg *pgtest.Server, store string, n int, env ...string) *cluster {
	dir, err := os.MkdirTemp(work, store+"-")
	if err != nil {
		log.Fatal(err)
	}
	c := &cluster{store: store, env: append(os.Environ(),
		"KILN_ADMIN_EMAIL="+adminEmail, "KILN_ADMIN_PASSWORD=admin-password-123",
		"KILN_AUTH_FAILURE_BURST=-1", // measure the 403 path, not the throttle's 429s
		"KILN_DATA_DIR="+dir)}
	c.env = append(c.env, env...)
	if store == "postgres" {
		dbURL, err := pg.CreateDatabase(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		newKey(filepath.Join(dir, "token.key"))
		newKey(filepath.Join(dir, "secrets.key"))
		c.env = append(c.env, "KILN_DATABASE_URL="+dbURL,
			"KILN_TOKEN_KEY_FILE="+filepath.Join(dir, "token.key"), "KILN_SECRETS_KEY_FILE="+filepath.Join(dir, "secrets.key"))
	}
	// SQLite replicas share the data directory (and so the key files);
	// the first initialises it before the others start.
	for i := range n {
		addr := benchproc.FreeAddr()
		cmd := exec.Command(kilnBin, "serve", "--addr", addr, "--log-level", "error")
		cmd.Env = c.env
		if store == "postgres" {
			cmd.Env = append(slices.Clone(c.env), "KILN_DATA_DIR="+filepath.Join(dir, strconv.Itoa(i)))
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			log.Fatal(err)
		}
		c.procs = append(c.procs, cmd)
		c.urls = append(c.urls, "http://"+addr)
		waitReady(c.urls[i])
	}
	c.admin("conf", "set", "enableTokensConfig=true")
	c.adminToken = strings.TrimSpace(c.admin("tokens", "create", "--user", adminEmail, "--comment", "bench"))
	for _, u := range c.urls {
		deadline := time.Now().Add(5 * time.Second)
		for me(u, c.adminToken) != 200 {
			if time.Now().After(deadline) {
				log.Fatalf("%s: the admin token does not work", u)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c
}

func (c *cluster) admin(args ...string) string {
	cmd := exec.Command(kilnBin, append([]string{"admin"}, args...)...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		log.Fatalf("kiln admin %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

func (c *cluster) close() {
	for _, p := range c.procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range c.procs {
		p.Wait()
	}
}

func waitReady(u string) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(u + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatalf("%s not ready", u)
}

func me(u, token string) int {
	req, _ := http.NewRequest("GET", u+"/api/2.0/preview/scim/v2/Me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

var (
	rpsRE = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p50RE = regexp.MustCompile(`p50_us=([0-9]+)`)
)

// wrk runs one wrk per replica at once and returns the summed rate and the
// slowest replica's median latency. tokens is a token or "random" (bad
// tokens, see bench/wrk/token.lua).
func (c *cluster) wrk(tokens string, threads int) (float64, time.Duration) {
	per := max(1, *conns/len(c.urls))
	var mu sync.Mutex
	var total float64
	var p50 time.Duration
	var wg sync.WaitGroup
	for _, u := range c.urls {
		wg.Go(func() {
			cmd := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(per), "-d"+duration.String(),
				"-s", "bench/wrk/token.lua", u)
			cmd.Env = append(os.Environ(), "TOKENS="+tokens, "WRK_PATH=/api/2.0/preview/scim/v2/Me")
			out, err := cmd.CombinedOutput()
			if err != nil {
				log.Fatalf("wrk: %v\n%s", err, out)
			}
			m := rpsRE.FindSubmatch(out)
			if m == nil {
				log.Fatalf("wrk printed no rate:\n%s", out)
			}
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			var us int64
			if m := p50RE.FindSubmatch(out); m != nil {
				us, _ = strconv.ParseInt(string(m[1]), 10, 64)
			}
			mu.Lock()
			total += v
			p50 = max(p50, time.Duration(us)*time.Microsecond)
			mu.Unlock()
		})
	}
	wg.Wait()
	return total, p50
}

// propagation revokes n tokens through replica 2 and times, from the
// revocation's acknowledgement, how long replicas 1 and 3 keep accepting
// each; it returns the median and the worst of the slower of the two.
func (c *cluster) propagation(n int) (median, worst time.Duration) {
	var took []time.Duration
	for range n {
		value, id := c.createToken(c.urls[0])
		for _, u := range []string{c.urls[0], c.urls[2]} {
			deadline := time.Now().Add(5 * time.Second)
			for me(u, value) != 200 {
				if time.Now().After(deadline) {
					log.Fatalf("%s: a new token does not work", u)
				}
				time.Sleep(time.Millisecond)
			}
		}
		body, _ := json.Marshal(map[string]string{"token_id": id})
		req, _ := http.NewRequest("POST", c.urls[1]+"/api/2.0/token/delete", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+value)
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			log.Fatalf("revoke: %v %v", err, resp)
		}
		resp.Body.Close()
		acked := time.Now()
		// Both observers are polled in turn; each is done at its first 403.
		pending := map[string]bool{c.urls[0]: true, c.urls[2]: true}
		var last time.Duration
		for len(pending) > 0 {
			for u := range pending {
				if me(u, value) == 403 {
					delete(pending, u)
					last = time.Since(acked)
				}
			}
			if time.Since(acked) > 5*time.Second {
				log.Fatal("a revocation did not propagate within 5s")
			}
		}
		took = append(took, last)
	}
	slices.Sort(took)
	return took[len(took)/2].Round(10 * time.Microsecond), took[len(took)-1].Round(10 * time.Microsecond)
}

func (c *cluster) createToken(u string) (value, id string) {
	body, _ := json.Marshal(map[string]any{"comment": "propagation", "lifetime_seconds": 3600})
	req, _ := http.NewRequest("POST", u+"/api/2.0/token/create", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.adminToken)
	resp, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		TokenValue string `json:"token_value"`
		TokenInfo  struct {
			TokenID string `json:"token_id"`
		} `json:"token_info"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m.TokenValue == "" {
		log.Fatalf("token/create: %d %v", resp.StatusCode, err)
	}
	return m.TokenValue, m.TokenInfo.TokenID
}
