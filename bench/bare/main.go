// Command bare is the reference point of kiln's load benchmark: a bare
// net/http handler that answers every request with a small JSON object,
// so the benchmark can report kiln's throughput as a ratio to what this
// machine does with no work at all.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	flag.Parse()
	body := []byte(`{"status":"ok"}` + "\n")
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	})))
}
