//go:build cgo

package offheap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestViewsNeverPanicWhenCloseRaces: accessors of a snapshot and of a buffer, called while
// another goroutine closes the object, return the data or a zero value, never a panic (an
// accessor used to build a slice from a pointer Close had just zeroed).
func TestViewsNeverPanicWhenCloseRaces(t *testing.T) {
	agg := tumbling(t, KeyValue)
	defer agg.Close()
	var batch SampleBatch
	for k := range 64 {
		batch.Add(uint64(k), 1, float64(k))
	}
	if _, err := agg.Ingest(&batch, 1); err != nil {
		t.Fatal(err)
	}
	for range 300 {
		s, err := NewSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := agg.Snapshot(s, 1, SnapshotOptions{Quantiles: []float64{0.5}}); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 64; i++ {
				_ = s.Row(i % max(s.Len(), 1))
				_ = s.UnsafeSums()
				_ = s.Quantile(i%max(s.Len(), 1), 0)
			}
		}()
		s.Close()
		<-done
	}
}

// The misuse matrix: every exported type with a Close × {Close twice, every method after
// Close, Close racing every method}. A call never panics; after Close it returns an error
// matching ErrClosed, or (a method without an error) the zero value of its results, which
// each method's doc states; a call Close races returns either its result or that. A call
// blocked on the object (Relay.Copy on an idle connection, Buffer.ReadFrom, Engine.Wait)
// returns promptly once Close returns. Nothing leaks. The methods come from reflection and
// the types from the exported API (api_test.go), so a new method or a new closable type
// cannot escape: one whose arguments the matrix cannot make fails it until they are added.
// Types without Close (batches, columns, options) hold no handle and are not in it.

// misuseEnv is what one object of the matrix and the arguments of its methods use; close
// releases all of it.
type misuseEnv struct {
	t       *testing.T
	closers []func()
	conns   map[string]net.Conn
}

func (e *misuseEnv) defer_(f func()) { e.closers = append(e.closers, f) }

func (e *misuseEnv) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// conn returns the connection named name (created on first use, with its peer: "src"'s peer
// sends nothing, "dst"'s reads nothing), so every method of an object sees the same ones.
func (e *misuseEnv) conn(name string) net.Conn {
	if c, ok := e.conns[name]; ok {
		return c
	}
	a, b := tcpPair(e.t)
	e.defer_(func() { a.Close(); b.Close() })
	e.conns[name] = a
	return a
}

func (e *misuseEnv) buffer() *Buffer {
	b := bufferWith(e.t, []byte("5\r\nhello\r\n0\r\n\r\n"))
	e.defer_(func() { b.Close() })
	return b
}

// tumbling returns a one-minute tumbling aggregator with keys in format kf.
func tumbling(t *testing.T, kf KeyFormat) *Aggregator {
	a, err := NewAggregator(AggregatorConfig{Mode: Tumbling, Width: time.Minute, KeyFormat: kf})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// misuseTypes makes a live object of each exported type with Close, ready for every method:
// a relay bound to idle connections, a snapshot with rows and a quantile, and so on.
var misuseTypes = map[string]func(e *misuseEnv) closer{
	"Aggregator": func(e *misuseEnv) closer { return tumbling(e.t, KeyValue) },
	"Snapshot": func(e *misuseEnv) closer {
		s, err := NewSnapshot()
		if err != nil {
			e.t.Fatal(err)
		}
		agg := tumbling(e.t, KeyValue)
		defer agg.Close()
		var b SampleBatch
		b.Add(1, 1, 2)
		b.AddString("key", 1, 3)
		agg.Ingest(&b, 1)
		if err := agg.Snapshot(s, 1, SnapshotOptions{Quantiles: []float64{0.5}}); err != nil || s.Len() != 2 {
			e.t.Fatalf("snapshot: %v", err)
		}
		return s
	},
	"Buffer": func(e *misuseEnv) closer { return e.buffer() },
	"Recorder": func(e *misuseEnv) closer {
		agg := tumbling(e.t, KeyLabels)
		e.defer_(func() { agg.Close() })
		r, err := NewRecorder(agg, RecorderConfig{Labels: []string{"route"}})
		if err != nil {
			e.t.Fatal(err)
		}
		return r
	},
	"Relay": func(e *misuseEnv) closer {
		r, err := NewRelay()
		if err != nil {
			e.t.Fatal(err)
		}
		if err := r.Bind(e.conn("src"), e.conn("dst")); err != nil {
			e.t.Fatal(err)
		}
		return r
	},
	"Engine": func(e *misuseEnv) closer {
		en, err := NewEngine(1, 8)
		if err != nil {
			e.t.Fatal(err)
		}
		return en
	},
}

type closer interface{ Close() error }

// misuseArg makes an argument of type typ for a method of the matrix; conns counts the
// connections made for the call so far.
func misuseArg(e *misuseEnv, typ reflect.Type, conns *int) (reflect.Value, bool) {
	var v any
	switch typ {
	case reflect.TypeFor[context.Context]():
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		e.defer_(cancel)
		v = ctx
	case reflect.TypeFor[Framing]():
		v = Exact(100)
	case reflect.TypeFor[[]byte]():
		return reflect.Zero(typ), true // nil: an empty key or state, and AppendKey's dst
	case reflect.TypeFor[int](), reflect.TypeFor[int64](), reflect.TypeFor[uint64](), reflect.TypeFor[SeriesID]():
		return reflect.Zero(typ), true // 0: a valid row, quantile, now, key or id
	case reflect.TypeFor[bool]():
		v = true
	case reflect.TypeFor[float64]():
		v = 1.5
	case reflect.TypeFor[string]():
		v = "/a"
	case reflect.TypeFor[[]string](): // WithLabelValues' values
		v = []string{"/a"}
	case reflect.TypeFor[MetricType](), reflect.TypeFor[ExpositionFormat]():
		return reflect.Zero(typ), true
	case reflect.TypeFor[syscall.Conn](): // Engine.ProxyListen's listener
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			e.t.Fatal(err)
		}
		e.defer_(func() { ln.Close() })
		v = ln.(syscall.Conn)
	case reflect.TypeFor[*ProxyConfig]():
		v = &ProxyConfig{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}}
	case reflect.TypeFor[[]ProxyEvent]():
		v = make([]ProxyEvent, 4)
	case reflect.TypeFor[HandlerOptions]():
		v = HandlerOptions{}
	case reflect.TypeFor[time.Time]():
		v = time.Now().Add(time.Hour)
	case reflect.TypeFor[io.Writer]():
		v = io.Discard
	case reflect.TypeFor[*SnapshotColumns]():
		v = NewSnapshotColumns(4, 1)
	case reflect.TypeFor[SnapshotOptions]():
		v = SnapshotOptions{Quantiles: []float64{0.5}}
	case reflect.TypeFor[*Snapshot]():
		s, err := NewSnapshot()
		if err != nil {
			e.t.Fatal(err)
		}
		e.defer_(func() { s.Close() })
		v = s
	case reflect.TypeFor[*SampleBatch]():
		b := new(SampleBatch)
		b.Add(1, 1, 1)
		v = b
	case reflect.TypeFor[[]uint64]():
		v = []uint64{1}
	case reflect.TypeFor[[]int64]():
		v = []int64{1}
	case reflect.TypeFor[[]float64]():
		v = []float64{1}
	case reflect.TypeFor[[]uint32]():
		v = []uint32(nil)
	case reflect.TypeFor[Endpoint](), reflect.TypeFor[Conn]():
		// Relay.Bind's src and dst, an engine job's sides: the first is "src", then "dst".
		v = e.conn([]string{"src", "dst"}[*conns%2])
		*conns++
	case reflect.TypeFor[syscall.RawConn]():
		raw, err := e.conn("src").(syscall.Conn).SyscallConn()
		if err != nil {
			e.t.Fatal(err)
		}
		v = raw
	case reflect.TypeFor[*Buffer]():
		v = e.buffer()
	case reflect.TypeFor[[]Completion]():
		v = make([]Completion, 4)
	case reflect.TypeFor[[]EngineJob]():
		v = []EngineJob{{ID: 1, A: e.conn("src").(Conn), B: e.conn("dst").(Conn), Tunnel: true}}
	case reflect.TypeFor[*SessionOptions]():
		v = &SessionOptions{}
	default:
		return reflect.Value{}, false
	}
	return reflect.ValueOf(v), true
}

// misuseArgs makes the arguments of method m of obj (the receiver first), or returns false
// when the matrix cannot make one.
func misuseArgs(e *misuseEnv, obj any, m reflect.Method) ([]reflect.Value, bool) {
	args := []reflect.Value{reflect.ValueOf(obj)}
	conns := 0
	for i := 1; i < m.Type.NumIn(); i++ {
		a, ok := misuseArg(e, m.Type.In(i), &conns)
		if !ok {
			return nil, false
		}
		args = append(args, a)
	}
	return args, true
}

// misuseCall calls m with args; it returns the results, or the panic if one happened.
func misuseCall(m reflect.Method, args []reflect.Value) (out []reflect.Value, panicked any) {
	defer func() { panicked = recover() }()
	if m.Type.IsVariadic() {
		return m.Func.CallSlice(args), nil
	}
	return m.Func.Call(args), nil
}

// aliveAfterClose lists the methods documented to return a live value after Close, and what
// that value does then: the matrix asks only that they do not panic.
var aliveAfterClose = map[string]string{
	"Recorder.WithLabelValues": "a series handle whose observations count as Dropped",
	"Aggregator.Handler":       "a handler that answers 500 before writing any exposition",
	"Engine.Workers":           "the number of workers the engine was made with",
}

// closedResult reports whether out is what a call on a closed object returns: an error that
// matches ErrClosed, or zero values.
func closedResult(out []reflect.Value) bool {
	if n := len(out); n > 0 && out[n-1].Type() == reflect.TypeFor[error]() {
		err, _ := out[n-1].Interface().(error)
		return errors.Is(err, ErrClosed)
	}
	for _, v := range out {
		if !v.IsZero() {
			return false
		}
	}
	return true
}

func describe(out []reflect.Value) string {
	var parts []string
	for _, v := range out {
		parts = append(parts, fmt.Sprintf("%v", v))
	}
	return strings.Join(parts, ", ")
}

// closableTypes lists the exported types with a Close method, from the exported API.
func closableTypes(t *testing.T) []string {
	files, _ := parsePackage(t, true, nil)
	var types []string
	for key := range exportedAPI(files) {
		if name, ok := strings.CutPrefix(key, "func (*"); ok && strings.HasSuffix(name, ") Close") {
			types = append(types, strings.TrimSuffix(name, ") Close"))
		}
	}
	slices.Sort(types)
	return types
}

func TestMisuseMatrix(t *testing.T) {
	types := closableTypes(t)
	if len(types) < 5 {
		t.Fatalf("closable types %v: the exported API lists fewer than expected", types)
	}
	base := takeBaseline(t)
	for _, name := range types {
		mk, ok := misuseTypes[name]
		if !ok {
			t.Fatalf("%s has Close but the misuse matrix cannot make one: add it to misuseTypes", name)
		}
		t.Run(name, func(t *testing.T) {
			newEnv := func() *misuseEnv { return &misuseEnv{t: t, conns: map[string]net.Conn{}} }
			// Close twice.
			e := newEnv()
			obj := mk(e)
			if err := obj.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := obj.Close(); err != nil {
				t.Fatalf("second Close: %v, want nil", err)
			}
			e.close()
			typ := reflect.TypeOf(obj)
			for i := range typ.NumMethod() {
				m := typ.Method(i)
				if m.Name == "Close" {
					continue
				}
				// Use after Close.
				e := newEnv()
				obj := mk(e)
				obj.Close()
				args, ok := misuseArgs(e, obj, m)
				if !ok {
					t.Fatalf("%s.%s: the matrix cannot make its arguments: add them to misuseArg", name, m.Name)
				}
				out, p := misuseCall(m, args)
				switch {
				case p != nil:
					t.Fatalf("%s.%s after Close panicked: %v", name, m.Name, p)
				case !closedResult(out) && aliveAfterClose[name+"."+m.Name] == "":
					t.Fatalf("%s.%s after Close = %s, want ErrClosed or zero values", name, m.Name, describe(out))
				}
				e.close()
				misuseRace(t, name, m, mk)
			}
		})
	}
	base.check(t)
}

// misuseRace calls method m of a live object in a loop on another goroutine while Close runs:
// no call panics, and once Close has returned the calls report the object closed, promptly
// (a call blocked on the object included).
func misuseRace(t *testing.T, name string, m reflect.Method, mk func(*misuseEnv) closer) {
	e := &misuseEnv{t: t, conns: map[string]net.Conn{}}
	defer e.close()
	obj := mk(e)
	args, _ := misuseArgs(e, obj, m)
	var closed atomic.Bool
	type report struct {
		panicked any
		out      []reflect.Value
	}
	done := make(chan report, 1)
	started := make(chan struct{})
	go func() {
		once := false
		for {
			after := closed.Load()
			out, p := misuseCall(m, args)
			if !once {
				once = true
				close(started)
			}
			if p != nil || (after && (closedResult(out) || aliveAfterClose[name+"."+m.Name] != "")) {
				done <- report{p, out}
				return
			}
			if after {
				done <- report{nil, out}
				return
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Millisecond): // blocked in its first call: Close must end it
	}
	if err := obj.Close(); err != nil {
		t.Fatalf("%s.Close racing %s: %v", name, m.Name, err)
	}
	closed.Store(true)
	select {
	case r := <-done:
		if r.panicked != nil {
			t.Fatalf("%s.%s racing Close panicked: %v", name, m.Name, r.panicked)
		}
		if !closedResult(r.out) && aliveAfterClose[name+"."+m.Name] == "" {
			t.Fatalf("%s.%s after a racing Close = %s, want ErrClosed or zero values", name, m.Name, describe(r.out))
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("%s.%s still running 2 s after Close returned", name, m.Name)
	}
}
