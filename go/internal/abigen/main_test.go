package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

func TestGoName(t *testing.T) {
	for c, want := range map[string]string{
		"OFFHEAP_STATUS_OK":                               "statusOK",
		"OFFHEAP_STATUS_HEADERS_BARE_CR":                  "statusHeadersBareCR",
		"OFFHEAP_STATUS_RELAY_CHUNK_MISSING_CRLF":         "statusRelayChunkMissingCRLF",
		"OFFHEAP_STATUS_HEADERS_TRANSFER_ENCODING_HTTP10": "statusHeadersTransferEncodingHTTP10",
		"OFFHEAP_STATUS_RELAY_BAD_FD":                     "statusRelayBadFd",
		"OFFHEAP_RELAY_FEED_EOF":                          "relayFeedEOF",
		"OFFHEAP_HEAD_TE_OTHER":                           "headTEOther",
		"OFFHEAP_KNOWN_X_FORWARDED_FOR":                   "knownXForwardedFor",
		"OFFHEAP_ENGINE_MAX_BATCH":                        "engineMaxBatch",
		"OFFHEAP_SERIES_KEY_ID":                           "seriesKeyID",
	} {
		if got := goName(c); got != want {
			t.Errorf("goName(%s) = %s, want %s", c, got, want)
		}
	}
}

const testHeader = `
// Most of them.
#define OFFHEAP_THING_MAX 16

#define OFFHEAP_STEP_LIMIT (4 << 20)
#define OFFHEAP_VERSION_STRING "0.1.0"

enum offheap_color
 {
  // Red.
  OFFHEAP_COLOR_RED = 1,
  OFFHEAP_COLOR_BLUE = 2,
  OFFHEAP_COLOR_GREEN,
};

enum offheap_side
 {
  OFFHEAP_SIDE_LEFT,
  // Right.
  OFFHEAP_SIDE_RIGHT,
};

typedef struct offheap_pair {
  // The first.
  uint32_t first;
  const uint8_t *data;
  size_t len;
  uint64_t slots[OFFHEAP_THING_MAX];
} offheap_pair;

uint32_t offheap_version(void);
const char *offheap_name(uint32_t id);
offheap_status offheap_pair_get(uint64_t id,
                                struct offheap_pair *out);
`

func TestParseHeader(t *testing.T) {
	h := parseHeader(testHeader)
	var got []string
	for _, c := range h.consts {
		got = append(got, c.c+"="+c.value+" "+strings.Join(c.doc, "|"))
	}
	want := []string{"OFFHEAP_THING_MAX=16 // Most of them.", "OFFHEAP_STEP_LIMIT=(4 << 20) ",
		"OFFHEAP_COLOR_RED=1 // Red.", "OFFHEAP_COLOR_BLUE=2 ", "OFFHEAP_COLOR_GREEN=3 ",
		// Variants without a value count on from the one before, from 0 in each enum.
		"OFFHEAP_SIDE_LEFT=0 ", "OFFHEAP_SIDE_RIGHT=1 // Right."}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("constants:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f := strings.Join(h.structs["offheap_pair"], ","); f != "first,data,len,slots" {
		t.Errorf("fields of offheap_pair: %s", f)
	}
	// A pointer in the result is no pointer argument; one on a continuation line is.
	for name, ptr := range map[string]bool{"offheap_version": false, "offheap_name": false, "offheap_pair_get": true} {
		if got, ok := h.funcs[name]; !ok || got != ptr {
			t.Errorf("funcs[%s] = %v, %v; want %v", name, got, ok, ptr)
		}
	}
}

func testPackage(t *testing.T, src string) *goPackage {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &goPackage{structs: map[string]*ast.StructType{}, calls: map[string]bool{}}
	p.collect(f)
	return p
}

func TestPins(t *testing.T) {
	h := parseHeader(`
typedef struct offheap_progress {
  uint32_t state;
  int32_t os_errno;
  uint64_t bytes_in;
  uint64_t bytes_out;
} offheap_progress;

typedef struct offheap_buffer_io {
  size_t len;
} offheap_buffer_io;
`)
	p := testPackage(t, `package x
type progress struct {
	state   uint32
	osErrno int32
	stats   Stats
}
type Stats struct{ BytesIn, BytesOut uint64 }
type extra struct {
	state, osErrno     uint32
	bytesIn, bytesOut  uint64
	spare              uint32
}
type renamed struct{ length uintptr }
`)
	var b bytes.Buffer
	if err := p.pins(&b, h, "offheap_progress", "progress"); err != nil {
		t.Fatal(err)
	}
	want := `	_ equal = [C.sizeof_offheap_progress - unsafe.Sizeof(progress{})]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_progress{}.state) - unsafe.Offsetof(progress{}.state)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_progress{}.os_errno) - unsafe.Offsetof(progress{}.osErrno)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_progress{}.bytes_in) - unsafe.Offsetof(progress{}.stats) - unsafe.Offsetof(Stats{}.BytesIn)]struct{}{}
	_ equal = [unsafe.Offsetof(C.offheap_progress{}.bytes_out) - unsafe.Offsetof(progress{}.stats) - unsafe.Offsetof(Stats{}.BytesOut)]struct{}{}
`
	if b.String() != want {
		t.Errorf("pins:\n%s\nwant:\n%s", b.String(), want)
	}
	// A Go field without its C field is an error, as is a C field without its Go field.
	if err := p.pins(&b, h, "offheap_progress", "extra"); err == nil || !strings.Contains(err.Error(), "extra.spare") {
		t.Errorf("extra: %v, want an error naming extra.spare", err)
	}
	if err := p.pins(&b, h, "offheap_buffer_io", "progress"); err == nil || !strings.Contains(err.Error(), "offheap_buffer_io.len") {
		t.Errorf("offheap_buffer_io as progress: %v, want an error naming offheap_buffer_io.len", err)
	}
	// renamed pairs offheap_buffer_io.len with length.
	if err := p.pins(&b, h, "offheap_buffer_io", "renamed"); err != nil {
		t.Errorf("renamed: %v", err)
	}
}
