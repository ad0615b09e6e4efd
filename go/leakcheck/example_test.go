//go:build cgo

package leakcheck_test

import (
	"fmt"
	"time"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/go/leakcheck"
)

// A Buffer left open is not back; once closed, everything is.
func Example() {
	base, err := leakcheck.Take()
	if err != nil {
		panic(err)
	}
	b, err := offheap.NewBuffer()
	if err != nil {
		panic(err)
	}
	fmt.Println("left open, back:", base.Wait(0) == nil)
	b.Close()
	fmt.Println("closed:", base.Wait(5*time.Second))
	// Output:
	// left open, back: false
	// closed: <nil>
}
