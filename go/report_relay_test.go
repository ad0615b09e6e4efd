//go:build cgo

package offheap

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestHeapReportCountsRelayedBytes(t *testing.T) {
	upstream, src := tcpPair(t)
	dst, client := tcpPair(t)
	defer upstream.Close()
	defer src.Close()
	defer client.Close()
	body := bytes.Repeat([]byte("offheap "), 8192)
	go upstream.Write(body)

	before := ReadHeapReport()
	r := boundRelay(t, src, dst)
	defer r.Close()
	if _, err := r.Copy(context.Background(), Exact(int64(len(body)))); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	got, _ := io.ReadAll(client)
	if !bytes.Equal(got, body) {
		t.Fatalf("relayed %d bytes, want %d", len(got), len(body))
	}
	d := ReadHeapReport().Since(before)
	if moved := d.Relay.BytesSpliced + d.Relay.BytesCopied; moved != uint64(len(body)) {
		t.Fatalf("report counts %d relayed bytes, want %d", moved, len(body))
	}
	if d.Relay.RelaysDone != 1 {
		t.Fatalf("RelaysDone = %d, want 1", d.Relay.RelaysDone)
	}
	var out strings.Builder
	if err := before.WriteSideBySide(&out, "before", d, "after"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Relay bytes spliced") {
		t.Fatalf("side-by-side output lacks the relay rows:\n%s", out.String())
	}
}
