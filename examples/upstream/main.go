// Command upstream is the origin server of the proxy benchmarks and tests: a plain net/http
// server answering GET /2, /16k and /1m with the bodies of package payload (2 bytes "OK",
// 16 KiB and 1 MiB of fixed contents, so clients can check them), POST /upload/2, /upload/16k
// and /upload/1m by checking the request body against the same bodies (length and every byte;
// failures answer 400 and are counted), and /echo with the request body.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/offheap/offheap/examples/internal/debugstats"
	"github.com/offheap/offheap/examples/internal/payload"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve on")
	debug := flag.String("debug", "", "address for "+debugstats.Path+" (empty: none)")
	flag.Parse()

	mux := http.NewServeMux()
	var uploads uploadCounters
	for _, size := range payload.Sizes {
		body, length := payload.Body(size.N), strconv.Itoa(size.N)
		mux.HandleFunc(size.Path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = []string{"application/octet-stream"}
			w.Header()["Content-Length"] = []string{length}
			_, _ = w.Write(body)
		})
		mux.Handle(UploadPrefix+size.Path, uploads.handler(body))
	}
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		// Read all first: an HTTP/1 handler cannot read the request after writing the response.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := debugstats.Serve(*debug, uploads.counterMap); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "upstream: serving on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}
