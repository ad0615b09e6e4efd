package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/offheap/offheap/examples/internal/payload"
)

func TestCheckBody(t *testing.T) {
	want := payload.Body(100 << 10)
	bad := append([]byte(nil), want...)
	bad[70000] ^= 1
	cases := []struct {
		name string
		body []byte
		err  string
	}{
		{"exact", want, ""},
		{"short", want[:len(want)-1], "upload of 102399 bytes, want 102400"},
		{"long", append(append([]byte(nil), want...), 'x'), "longer than the 102400 bytes"},
		{"changed byte", bad, "differs from the expected body at byte 70000"},
		{"empty", nil, "upload of 0 bytes"},
	}
	for _, c := range cases {
		// A buffer of 4093 bytes makes the reads end at odd offsets of the pattern.
		err := checkBody(strings.NewReader(string(c.body)), want, make([]byte, 4093))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
		}
	}
}

func TestUploadHandler(t *testing.T) {
	var u uploadCounters
	h := u.handler(payload.Body(16 << 10))
	post := func(method string, body []byte) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, UploadPrefix+"/16k", strings.NewReader(string(body))))
		if rec.Code == http.StatusOK && rec.Body.String() != "OK" {
			t.Fatalf("200 with body %q, want OK", rec.Body.String())
		}
		return rec.Code
	}
	if c := post(http.MethodPost, payload.Body(16<<10)); c != http.StatusOK {
		t.Fatalf("a correct upload got %d", c)
	}
	if c := post(http.MethodPost, payload.Body(16 << 10)[1:]); c != http.StatusBadRequest {
		t.Fatalf("a short upload got %d", c)
	}
	if c := post(http.MethodGet, nil); c != http.StatusMethodNotAllowed {
		t.Fatalf("GET got %d", c)
	}
	if m := u.counterMap(); m["uploads_ok"] != 1 || m["upload_failures"] != 1 {
		t.Fatalf("counters %v, want 1 ok and 1 failure", m)
	}
}
