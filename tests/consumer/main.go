// Command consumer is a service that uses offheap the way a new user does: through its module
// path, vendored (`go mod vendor`) or from the module cache, linked against an installed library
// (`make install`, build tag offheap_pkgconfig), fully static or not. It then uses the relay as a
// service built on the README would (relay.go): Close and deadlines, a chunked upload sent with
// its head, over TCP and TLS. `make test-adoption` and `make test-static` build and run it.
package main

import (
	"errors"
	"fmt"
	"os"

	offheap "github.com/offheap/offheap/go"
)

func main() {
	if err := offheap.Available(); err != nil {
		if errors.Is(err, offheap.ErrUnavailable) {
			fmt.Println("unavailable:", err)
			os.Exit(3)
		}
		fmt.Fprintln(os.Stderr, "offheap:", err)
		os.Exit(1)
	}
	before := offheap.ReadHeapReport()
	if before.RustErr != nil {
		fmt.Fprintln(os.Stderr, "offheap:", before.RustErr)
		os.Exit(1)
	}
	fmt.Printf("offheap %s (ABI %d) linked\n", offheap.Version(), offheap.ABIVersion())
	failed := runRelayChecks(true)
	// Nothing is left behind: a second round ends with no live object and, once the relay's
	// pools (buffers kept for reuse) are trimmed, the Rust heap where it was after the first
	// (which also grew what lives as long as the process: the handle table).
	offheap.TrimRelayPools()
	warm := offheap.ReadHeapReport()
	failed += runRelayChecks(false)
	offheap.TrimRelayPools()
	if now := offheap.ReadHeapReport(); now.Rust.LiveHandles != 0 || now.Rust.LiveBytes > warm.Rust.LiveBytes {
		fmt.Printf("FAIL left behind: %d live handles, Rust heap %d bytes (%d after the first round)\n",
			now.Rust.LiveHandles, now.Rust.LiveBytes, warm.Rust.LiveBytes)
		failed++
	} else {
		fmt.Println("ok   nothing left behind: no live handle, the Rust heap back where it was")
	}
	after := offheap.ReadHeapReport().Since(before)
	if err := before.WriteSideBySide(os.Stdout, "start", after, "end"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if failed > 0 {
		fmt.Printf("%d relay checks failed\n", failed)
		os.Exit(1)
	}
}

// runRelayChecks runs every relay check once, printing each (or only the failures) and
// returning how many failed.
func runRelayChecks(verbose bool) int {
	failed := 0
	for _, c := range relayChecks {
		if err := c.run(); err != nil {
			fmt.Printf("FAIL %s: %v\n", c.name, err)
			failed++
		} else if verbose {
			fmt.Printf("ok   %s\n", c.name)
		}
	}
	return failed
}
