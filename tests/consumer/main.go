// Command consumer is a service that uses offheap the way a new user does: through its module
// path, vendored (`go mod vendor`) or from the module cache, linked against an installed library
// (`make install`, build tag offheap_pkgconfig). `make test-adoption` builds and runs it.
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
	after := offheap.ReadHeapReport().Since(before)
	if err := before.WriteSideBySide(os.Stdout, "start", after, "end"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
