package benches

import (
	"testing"

	"github.com/offheap/offheap/benches/go/cgopeer"
	offheap "github.com/offheap/offheap/go"
)

//go:noinline
func emptyGo() uint32 { return 1 }

var sinkU32 uint32

// BenchmarkCrossing compares one call of the smallest offheap export (through the Go package,
// the Rust panic boundary included) with an empty Go call and an empty cgo call.
func BenchmarkCrossing(b *testing.B) {
	if err := offheap.Available(); err != nil {
		b.Fatal(err)
	}
	b.Run("go_func", func(b *testing.B) {
		for b.Loop() {
			sinkU32 += emptyGo()
		}
		if sinkU32 == 0 {
			b.Fatal("no calls made")
		}
	})
	b.Run("cgo_empty", func(b *testing.B) {
		for b.Loop() {
			sinkU32 += cgopeer.Empty()
		}
	})
	b.Run("offheap_export", func(b *testing.B) {
		if offheap.ABIVersion() != 7 {
			b.Fatal("unexpected ABI version")
		}
		for b.Loop() {
			sinkU32 += offheap.ABIVersion()
		}
	})
	b.Run("offheap_stats", func(b *testing.B) {
		for b.Loop() {
			s, err := offheap.ReadRustStats()
			if err != nil {
				b.Fatal(err)
			}
			sinkU32 += uint32(s.LiveHandles)
		}
	})
}
