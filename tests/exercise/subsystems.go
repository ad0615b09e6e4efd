package main

// Exercises of the three subsystems. Every object is created and closed inside a run, so the
// baseline check in main catches any handle or Rust allocation left behind. Relay copies run
// n/10 times and engines n/1000 times: each needs sockets or threads, which dominate under
// valgrind; the other APIs run n times.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/tests/loopback"
)

func init() {
	register("headers", exerciseHeaders)
	register("window", exerciseWindow)
	register("relay", exerciseRelay)
	register("engine", exerciseEngine)
}

var (
	goodHeads = []byte("GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nabc" +
		"GET /c HTTP/1.1\r\nHo")
	badHead  = []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n")
	response = []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
)

func exerciseHeaders(n int) error {
	req := offheap.NewRequestBatch(8)
	resp := offheap.NewResponseBatch(2)
	out := make([]byte, 0, 1024)
	opts := &offheap.RewriteOptions{ClientIP: "192.0.2.1", Proto: "http", Via: "exercise"}
	for i := 0; i < n; i++ {
		if _, err := req.Parse(goodHeads); err != nil {
			return err
		}
		if req.Len() != 3 || string(req.Header(0, "Host")) != "example.com" || !req.Incomplete(2) {
			return errors.New("headers: wrong parse")
		}
		var err error
		if out, err = req.RewriteRequest(out[:0], 0, opts); err != nil {
			return err
		}
		if _, err := req.Parse(badHead); err != nil || !errors.Is(req.Err(0), offheap.ErrMalformed) {
			return fmt.Errorf("headers: smuggling head not rejected: %v", req.Err(0))
		}
		if _, err := resp.Parse(response); err != nil || resp.Err(0) != nil {
			return fmt.Errorf("headers: response: %v %v", err, resp.Err(0))
		}
		if out, err = resp.RewriteResponse(out[:0], 0, "exercise"); err != nil {
			return err
		}
	}
	return nil
}

func exerciseWindow(n int) error {
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Sliding, Width: time.Minute, Slices: 6,
		Name: "exercise_seconds", Quantiles: []float64{0.5, 0.99}, MaxSeries: 1000, IdleTTL: time.Minute})
	if err != nil {
		return err
	}
	defer agg.Close()
	snap, err := offheap.NewSnapshot()
	if err != nil {
		return err
	}
	defer snap.Close()
	var b offheap.SampleBatch
	var state []byte
	now := int64(time.Hour)
	for i := 0; i < n; i++ {
		b.Reset()
		b.Add(uint64(i%2000), now, float64(i%100))
		b.AddString("route", now, 1)
		if acc, err := agg.Ingest(&b, now); err != nil || acc.Accepted+acc.Overflowed != 2 {
			return fmt.Errorf("window: ingest %+v %v", acc, err)
		}
		if i%64 == 0 {
			if err := agg.Snapshot(snap, now, offheap.SnapshotOptions{Quantiles: []float64{0.5}}); err != nil {
				return err
			}
			if _, err := agg.WritePrometheus(io.Discard, now); err != nil {
				return err
			}
			if state, err = agg.AppendState(state[:0], now); err != nil {
				return err
			}
			if _, err := agg.MergeState(state, now); err != nil {
				return err
			}
			if _, err := agg.Stats(); err != nil {
				return err
			}
		}
		if i%1024 == 1023 {
			if _, err := agg.Clear(); err != nil {
				return err
			}
		}
	}
	return nil
}

func exerciseRelay(n int) error {
	upstream, src, dst, client, err := loopback.Ends()
	if err != nil {
		return err
	}
	defer upstream.Close()
	defer src.Close()
	defer dst.Close()
	defer client.Close()
	body := bytes.Repeat([]byte("0123456789abcdef"), 64)
	got := make([]byte, len(body))
	buf, err := offheap.NewBuffer()
	if err != nil {
		return err
	}
	defer buf.Close()
	for i := 0; i < n/10+1; i++ {
		r, err := offheap.NewRelay()
		if err != nil {
			return err
		}
		r.SetSplice(i%2 == 0)
		if err := r.Bind(src, dst); err != nil {
			r.Close()
			return err
		}
		if _, err := upstream.Write(body); err != nil {
			r.Close()
			return err
		}
		st, err := r.Copy(context.Background(), offheap.Exact(int64(len(body))))
		r.Close()
		if err != nil || st.BytesOut != uint64(len(body)) {
			return fmt.Errorf("relay: %+v %v", st, err)
		}
		if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, body) {
			return fmt.Errorf("relay: body differs (%v)", err)
		}
	}
	return nil
}

func exerciseEngine(n int) error {
	for i := 0; i < n/1000+1; i++ {
		e, err := offheap.NewEngine(1, 16)
		if err != nil {
			return err
		}
		a1, b2, err := loopback.Handed(func(a2, b1 offheap.Conn) error { return e.SubmitTunnel(7, a2, b1) })
		if err != nil {
			return err
		}
		a1.Write([]byte("ping"))
		a1.CloseWrite()
		got, _ := io.ReadAll(b2)
		b2.Close()
		a1.Close()
		if string(got) != "ping" {
			return fmt.Errorf("engine: tunnel carried %q", got)
		}
		out := make([]offheap.Completion, 4)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		k, err := e.Wait(ctx, out)
		cancel()
		if err != nil || k != 1 || out[0].ID != 7 {
			return fmt.Errorf("engine: %d completions, %v", k, err)
		}
		if err := exerciseEngineBatch(e, out); err != nil {
			return err
		}
		if err := exerciseEngineSession(e, out); err != nil {
			return err
		}
		if err := e.Close(); err != nil {
			return err
		}
	}
	return nil
}

// exerciseEngineBatch relays one body handed over with SubmitBatch.
func exerciseEngineBatch(e *offheap.Engine, out []offheap.Completion) error {
	c1, d2, err := loopback.Handed(func(c2, d1 offheap.Conn) error {
		jobs := []offheap.EngineJob{{ID: 8, A: c2, B: d1, Framing: offheap.Exact(4)}}
		if n, err := e.SubmitBatch(jobs); err != nil || n != 1 || jobs[0].Err != nil {
			return fmt.Errorf("engine: SubmitBatch = %d, %v, %v", n, err, jobs[0].Err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer c1.Close()
	defer d2.Close()
	c1.Write([]byte("pong"))
	got := make([]byte, 4)
	if _, err := io.ReadFull(d2, got); err != nil || string(got) != "pong" {
		return fmt.Errorf("engine: batch body carried %q (%v)", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k, err := e.Wait(ctx, out)
	if err != nil || k != 1 || out[0].ID != 8 || out[0].Err != nil {
		return fmt.Errorf("engine: batch completion %d, %v", k, err)
	}
	return nil
}

// exerciseEngineSession runs one keep-alive exchange through an engine session, then hands
// a chunked request back; the buffers and fds come back with the completion.
func exerciseEngineSession(e *offheap.Engine, out []offheap.Completion) error {
	cbuf, err := offheap.NewBuffer()
	if err != nil {
		return err
	}
	defer cbuf.Close()
	ubuf, err := offheap.NewBuffer()
	if err != nil {
		return err
	}
	defer ubuf.Close()
	opts := &offheap.SessionOptions{ClientIP: "192.0.2.1", Via: "x", SetHost: true, Host: "u"}
	client, up, err := loopback.Handed(func(c, u offheap.Conn) error { return e.SubmitSession(9, c, u, cbuf, ubuf, opts) })
	if err != nil {
		return err
	}
	defer client.Close()
	defer up.Close()
	client.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	head := make([]byte, 4096)
	n, err := up.Read(head)
	if err != nil || !bytes.Contains(head[:n], []byte("Host: u\r\n")) {
		return fmt.Errorf("engine: session sent %q (%v)", head[:n], err)
	}
	up.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	got := make([]byte, 256)
	n, err = client.Read(got)
	if err != nil || !bytes.HasSuffix(got[:n], []byte("\r\n\r\nok")) {
		return fmt.Errorf("engine: session answered %q (%v)", got[:n], err)
	}
	chunked := "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	client.Write([]byte(chunked))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k, err := e.Wait(ctx, out)
	if err != nil || k != 1 || out[0].ID != 9 || out[0].Session != offheap.SessionRequest {
		return fmt.Errorf("engine: session completion %d, %v, %+v", k, err, out[0])
	}
	syscall.Close(out[0].ClientFd)
	syscall.Close(out[0].UpstreamFd)
	if string(cbuf.UnsafeBytes()) != chunked {
		return fmt.Errorf("engine: session handed back %q", cbuf.UnsafeBytes())
	}
	return nil
}
