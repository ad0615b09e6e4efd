package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/tests/loopback"
)

func init() {
	eng := &engineLoad{}
	register(&workload{name: "session", start: eng.start, run: eng.session, finish: eng.finish})
}

// session runs 1-8 keep-alive exchanges (GETs and Content-Length POSTs, random response sizes)
// through an engine session between a client and an upstream connection, checking the SHA-256
// of every body; a fault resets the client or the upstream in the middle.
func (l *engineLoad) session(ctx context.Context, rng *rand.Rand, faults float64, t *tally) {
	cbuf, err1 := offheap.NewBuffer()
	ubuf, err2 := offheap.NewBuffer()
	if err1 != nil || err2 != nil {
		t.fail("NewBuffer: %v %v", err1, err2)
		return
	}
	defer cbuf.Close()
	defer ubuf.Close()
	n := 1 + rng.IntN(8)
	fault := ""
	if rng.Float64() < faults {
		fault = []string{"client-reset", "upstream-reset"}[rng.IntN(2)]
		t.fault(fault)
	}
	resetAt := rng.IntN(n)
	id := l.ids.Add(1)
	ch := make(chan offheap.Completion, 1)
	l.pending.Store(id, ch)
	opts := &offheap.SessionOptions{ClientIP: "192.0.2.1", Via: "soak", StallTimeout: time.Minute}
	client, up, err := loopback.Handed(func(c, u offheap.Conn) error { return l.e.SubmitSession(id, c, u, cbuf, ubuf, opts) })
	if err != nil {
		l.pending.Delete(id)
		t.fail("SubmitSession: %v", err)
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the upstream: "/<size>/<seed>" answers size seeded bytes; POSTs echo their body's length
		defer wg.Done()
		defer up.Close()
		br := bufio.NewReader(up)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(req.Body)
			if fault == "upstream-reset" && i == resetAt {
				up.SetLinger(0)
				return
			}
			var payload []byte
			if req.Method == "POST" {
				payload = []byte(strconv.Itoa(len(body)))
			} else {
				parts := strings.Split(req.URL.Path, "/")
				size, _ := strconv.Atoi(parts[1])
				seed, _ := strconv.ParseUint(parts[2], 10, 64)
				payload = randomBytes(rand.New(rand.NewPCG(seed, 1)), size)
			}
			fmt.Fprintf(up, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(payload))
			if _, err := up.Write(payload); err != nil {
				return
			}
		}
	}()
	// The completion: a session that stops (at the end, or handing a faulted exchange back)
	// leaves the client to its caller, which here closes it.
	compCh := make(chan offheap.Completion, 1)
	go func() {
		comp := l.await(ch, id, "session", t)
		client.Close()
		compCh <- comp
	}()
	br := bufio.NewReader(client)
	var moved int64
	bad := ""
	for i := range n {
		if fault == "client-reset" && i == resetAt {
			client.SetLinger(0)
			break
		}
		var want []byte
		if rng.IntN(3) == 0 {
			body := randomBytes(rng, rng.IntN(200_000))
			fmt.Fprintf(client, "POST /p HTTP/1.1\r\nHost: s\r\nContent-Length: %d\r\n\r\n", len(body))
			go client.Write(body)
			want = []byte(strconv.Itoa(len(body)))
			moved += int64(len(body))
		} else {
			size, seed := randomSize(rng)%(1<<20), rng.Uint64()
			fmt.Fprintf(client, "GET /%d/%d HTTP/1.1\r\nHost: s\r\n\r\n", size, seed)
			want = randomBytes(rand.New(rand.NewPCG(seed, 1)), size)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if fault == "" {
				bad = fmt.Sprintf("exchange %d: %v", i, err)
			}
			break
		}
		got, err := io.ReadAll(resp.Body)
		if fault == "" && (err != nil || sha256.Sum256(got) != sha256.Sum256(want)) {
			bad = fmt.Sprintf("exchange %d: %d bytes, want %d (%v)", i, len(got), len(want), err)
			break
		}
		moved += int64(len(got))
	}
	client.CloseWrite()
	comp := <-compCh
	for _, fd := range []int{comp.ClientFd, comp.UpstreamFd} {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
	wg.Wait()
	t.ops.Add(1)
	t.bytes.Add(moved)
	if bad != "" {
		t.fail("session %d: %s", id, bad)
	} else if fault == "" && (comp.Err != nil || comp.Requests != uint64(n) ||
		(comp.Session != offheap.SessionClientClosed && comp.Session != offheap.SessionDone)) {
		t.fail("session %d: %d exchanges, completion %+v", id, n, comp)
	}
}
