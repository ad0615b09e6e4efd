package offheap

import "strconv"

// RustStats are offheap's process-wide counters of its Rust heap and live handles. Its layout
// is the C offheap_counters (the library writes it directly).
type RustStats struct {
	LiveBytes   uint64 // bytes allocated by Rust and not yet freed
	PeakBytes   uint64 // highest LiveBytes seen (precise to 64 KiB per allocating thread shard)
	Allocations uint64 // allocations since the process started
	Frees       uint64 // frees since the process started
	LiveHandles uint64 // live objects (handles) of every kind
	// HandlesByKind counts live handles per kind; index with the HandleKind constants.
	HandlesByKind [16]uint64
}

// HandleKind identifies the type of object behind a handle, as counted in
// [RustStats.HandlesByKind].
type HandleKind int

// Kinds of objects behind handles (the values of offheap_kind in the C header).
const (
	HandleKindDebug      HandleKind = kindDebug
	HandleKindAggregator HandleKind = kindAggregator
	HandleKindSnapshot   HandleKind = kindSnapshot
	HandleKindBuffer     HandleKind = kindBuffer
	HandleKindRelay      HandleKind = kindRelay
	HandleKindEngine     HandleKind = kindEngine
)

var handleKindNames = [...]string{
	HandleKindDebug: "debug", HandleKindAggregator: "aggregator", HandleKindSnapshot: "snapshot",
	HandleKindBuffer: "buffer", HandleKindRelay: "relay", HandleKindEngine: "engine",
}

// String returns the kind's name, such as "relay".
func (k HandleKind) String() string {
	if k > 0 && int(k) < len(handleKindNames) && handleKindNames[k] != "" {
		return handleKindNames[k]
	}
	return "HandleKind(" + strconv.Itoa(int(k)) + ")"
}

// ReadRustStats reads offheap's Rust heap and handle counters. It allocates nothing.
func ReadRustStats() (RustStats, error) {
	var s RustStats
	if st := readStats(&s); st != statusOK {
		return RustStats{}, statusError("ReadRustStats", st)
	}
	return s, nil
}
