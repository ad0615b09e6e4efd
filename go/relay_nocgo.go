//go:build !cgo

package offheap

import (
	"context"
	"syscall"
)

// Relay moves bodies between connections in Rust; without cgo every method reports
// ErrUnavailable.
type Relay struct{}

// NewRelay returns ErrUnavailable: the package was built without cgo.
func NewRelay() (*Relay, error) { return nil, initErr }

// Bind returns ErrUnavailable.
func (r *Relay) Bind(dst, src Conn) error { return initErr }

// SetSplice does nothing without cgo.
func (r *Relay) SetSplice(enabled bool) {}

// Copy returns ErrUnavailable.
func (r *Relay) Copy(ctx context.Context, f Framing) (RelayStats, error) {
	return RelayStats{}, initErr
}

// Close does nothing without cgo.
func (r *Relay) Close() error { return nil }

// TunnelStats are the byte counts of both directions of a Tunnel.
type TunnelStats struct {
	AToB, BToA RelayStats
}

// Tunnel returns ErrUnavailable.
func Tunnel(ctx context.Context, a, b Conn) (TunnelStats, error) { return TunnelStats{}, initErr }

// ReadRelayCounters returns ErrUnavailable.
func ReadRelayCounters() (RelayCounters, error) { return RelayCounters{}, initErr }

// TrimRelayPools does nothing without cgo.
func TrimRelayPools() {}

// Engine relays connections on Rust threads; without cgo NewEngine returns ErrUnavailable.
type Engine struct{}

// NewEngine returns ErrUnavailable.
func NewEngine(workers, maxJobs int) (*Engine, error) { return nil, initErr }

// SubmitTunnel returns ErrUnavailable.
func (e *Engine) SubmitTunnel(id uint64, a, b Conn) error { return initErr }

// SubmitBody returns ErrUnavailable.
func (e *Engine) SubmitBody(id uint64, dst, src Conn, f Framing) error { return initErr }

// Cancel returns ErrUnavailable.
func (e *Engine) Cancel(id uint64) error { return initErr }

// SubmitSession returns ErrUnavailable.
func (e *Engine) SubmitSession(id uint64, client, upstream Conn, cbuf, ubuf *Buffer, opts *SessionOptions) error {
	return initErr
}

// SubmitBatch returns ErrUnavailable.
func (e *Engine) SubmitBatch(jobs []EngineJob) (int, error) { return 0, initErr }

// InFlight returns ErrUnavailable.
func (e *Engine) InFlight() (int, error) { return 0, initErr }

// Wait returns ErrUnavailable.
func (e *Engine) Wait(ctx context.Context, out []Completion) (int, error) { return 0, initErr }

// Close does nothing without cgo.
func (e *Engine) Close() error { return nil }

// Buffer is a Rust-owned buffer; without cgo NewBuffer returns ErrUnavailable.
type Buffer struct{}

// NewBuffer returns ErrUnavailable.
func NewBuffer() (*Buffer, error) { return nil, initErr }

// ReadFrom returns ErrUnavailable.
func (b *Buffer) ReadFrom(raw syscall.RawConn) (int, error) { return 0, initErr }

// UnsafeBytes returns nil without cgo.
func (b *Buffer) UnsafeBytes() []byte { return nil }

// Len returns 0 without cgo.
func (b *Buffer) Len() int { return 0 }

// Consume returns ErrUnavailable.
func (b *Buffer) Consume(n int) error { return initErr }

// Close does nothing without cgo.
func (b *Buffer) Close() error { return nil }

// WriteBuffers returns ErrUnavailable.
func WriteBuffers(raw syscall.RawConn, bufs ...*Buffer) (int64, error) { return 0, initErr }
