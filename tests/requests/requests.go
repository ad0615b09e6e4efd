// Package requests holds httparse's benchmark requests (benches/parse.rs there,
// picohttpparser's bench.c), so offheap's numbers and httparse's are measured on the same
// bytes: the Go benchmarks (benches/go) import them, and offheap's Go tests read
// kittyhell.http from this directory.
package requests

import _ "embed"

// Kittyhell is the "kittyhell" request: 9 headers, a long Cookie.
//
//go:embed kittyhell.http
var Kittyhell string

// ReqShort is the REQ_SHORT request: HTTP/1.0, 2 headers.
//
//go:embed req_short.http
var ReqShort string
