//go:build !cgo

package offheap

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestWithoutCgoEverythingIsUnavailable(t *testing.T) {
	err := Available()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Available() = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "CGO_ENABLED=1") {
		t.Fatalf("the message must say how to build with cgo: %q", err)
	}
	if _, err := ReadRustStats(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ReadRustStats() = %v, want ErrUnavailable", err)
	}
	if r := ReadHeapReport(); !errors.Is(r.RustErr, ErrUnavailable) {
		t.Fatalf("ReadHeapReport().RustErr = %v, want ErrUnavailable", r.RustErr)
	}
	if Version() != "" || ABIVersion() != 0 {
		t.Fatal("Version/ABIVersion must be empty without cgo")
	}
}

// Without cgo the exported API is the same (api_test.go): every constructor reports
// ErrUnavailable, and the zero values of the objects are closed objects.
func TestWithoutCgoConstructorsAreUnavailable(t *testing.T) {
	for name, err := range map[string]error{
		"NewRelay":          second(NewRelay()),
		"NewBuffer":         second(NewBuffer()),
		"NewEngine":         second(NewEngine(1, 1)),
		"NewAggregator":     second(NewAggregator(AggregatorConfig{Width: 1})),
		"NewSnapshot":       second(NewSnapshot()),
		"ReadRelayCounters": second(ReadRelayCounters()),
		"Tunnel":            second(Tunnel(context.Background(), nil, nil)),
	} {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s = %v, want ErrUnavailable", name, err)
		}
	}
	TrimRelayPools()
	var r Relay
	if _, err := r.Copy(context.Background(), Exact(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Copy of a zero Relay = %v, want ErrClosed", err)
	}
	var e Engine
	if err := e.SubmitBody(1, nil, nil, Exact(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("SubmitBody of a zero Engine = %v, want ErrClosed", err)
	}
	var a Aggregator
	if _, err := a.Ingest(&SampleBatch{}, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Ingest of a zero Aggregator = %v, want ErrClosed", err)
	}
	var s Snapshot
	if s.Len() != 0 || len(s.UnsafeCounts()) != 0 {
		t.Error("a zero Snapshot has rows")
	}
	mustPanic(t, "offheap: index 0 out of range [0:0]", func() { s.Row(0) })
	for _, c := range []interface{ Close() error }{&r, &e, &a, &s, &Buffer{}} {
		if err := c.Close(); err != nil {
			t.Errorf("Close of a zero %T = %v", c, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }
