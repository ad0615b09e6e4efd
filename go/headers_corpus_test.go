//go:build cgo

package offheap

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// corpusCase is one line of tests/data/headers_corpus.tsv: a malicious or edge-case head,
// offheap's verdict, and whether net/http agrees ("same") or why it does not.
type corpusCase struct {
	request  bool
	name     string
	expected string // "ok" or the Rust headers::Error variant
	netHTTP  string // "same", or the explanation of the disagreement
	head     []byte
}

func readCorpus(t testing.TB) []corpusCase {
	data, err := os.ReadFile("../tests/data/headers_corpus.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 5 {
			t.Fatalf("corpus line has %d columns: %q", len(cols), line)
		}
		head, err := strconv.Unquote(cols[4])
		if err != nil {
			t.Fatalf("%s: %v", cols[1], err)
		}
		cases = append(cases, corpusCase{cols[0] == "req", cols[1], cols[2], cols[3], []byte(head)})
	}
	return cases
}

// statusNames maps the Rust variant names used in the corpus to status codes.
var statusNames = map[string]uint32{
	"Incomplete": 100, "HeadTooLarge": 101, "TooManyHeaders": 102, "Method": 103, "Target": 104,
	"TargetForm": 105, "Version": 106, "BareCr": 107, "BareLf": 108, "HeaderName": 109,
	"WhitespaceBeforeColon": 110, "ObsFold": 111, "HeaderValue": 112, "Status": 113,
	"ContentLengthInvalid": 114, "ContentLengthRepeated": 115, "ContentLengthWithTransferEncoding": 116,
	"ChunkedNotLast": 117, "TransferEncodingInvalid": 118, "TransferEncodingHttp10": 119,
	"HostMissing": 120, "HostRepeated": 121, "HostInvalid": 122,
}

// netHTTPAccepts runs net/http's own parser over the head.
func netHTTPAccepts(c corpusCase) (bool, error) {
	r := bufio.NewReader(bytes.NewReader(c.head))
	var err error
	if c.request {
		_, err = http.ReadRequest(r)
	} else {
		_, err = http.ReadResponse(r, nil)
	}
	return err == nil, err
}

// TestCorpusAgainstNetHTTP: offheap gives every corpus head its recorded verdict, and agrees
// with net/http on accept/reject except where the corpus explains the difference.
func TestCorpusAgainstNetHTTP(t *testing.T) {
	cases := readCorpus(t)
	if len(cases) < 60 {
		t.Fatalf("corpus has %d cases", len(cases))
	}
	req, resp := NewRequestBatch(1), NewResponseBatch(1)
	for _, c := range cases {
		var status uint32
		if c.request {
			if _, err := req.Parse(c.head); err != nil {
				t.Fatal(err)
			}
			status = req.recs[0].status
		} else {
			if _, err := resp.Parse(c.head); err != nil {
				t.Fatal(err)
			}
			status = resp.recs[0].status
		}
		want := uint32(0)
		if c.expected != "ok" {
			want = statusNames[c.expected]
		}
		if status != want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, status, want, c.expected)
			continue
		}
		if c.expected == "Incomplete" {
			continue // net/http would block on a real connection; nothing to compare
		}
		ours := status == 0
		theirs, err := netHTTPAccepts(c)
		switch {
		case c.netHTTP == "same" && ours != theirs:
			t.Errorf("%s: offheap accepts=%v, net/http accepts=%v (%v): explain it in the corpus", c.name, ours, theirs, err)
		case c.netHTTP != "same" && ours == theirs:
			t.Errorf("%s: the corpus explains a disagreement (%q) but both accept=%v", c.name, c.netHTTP, ours)
		}
	}
}
