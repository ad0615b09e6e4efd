package offheap

import "strconv"

// RustStats are offheap's process-wide counters of its Rust heap and live handles.
type RustStats struct {
	LiveBytes   uint64 // bytes allocated by Rust and not yet freed
	PeakBytes   uint64 // highest LiveBytes seen (precise to 64 KiB per allocating thread shard)
	Allocations uint64 // allocations since the process started
	Frees       uint64 // frees since the process started
	LiveHandles uint64 // live objects (handles) of every kind
	// HandlesByKind counts live handles per kind; index with the Kind constants.
	HandlesByKind [16]uint64
}

// Kind identifies the type of object behind a handle, as counted in RustStats.HandlesByKind.
type Kind int

// Kinds of objects behind handles (the values of offheap_kind in the C header).
const (
	KindDebug      Kind = 1
	KindAggregator Kind = 2
	KindSnapshot   Kind = 3
	KindBuffer     Kind = 4
	KindRelay      Kind = 5
	KindEngine     Kind = 6
)

var kindNames = [...]string{
	KindDebug: "debug", KindAggregator: "aggregator", KindSnapshot: "snapshot",
	KindBuffer: "buffer", KindRelay: "relay", KindEngine: "engine",
}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ReadRustStats reads offheap's Rust heap and handle counters. It allocates nothing.
func ReadRustStats() (RustStats, error) { return readRustStats() }
