package ascii

import "testing"

func TestEqualFold(t *testing.T) {
	for _, c := range []struct {
		b, s string
		want bool
	}{
		{"Content-Length", "content-length", true},
		{"HOST", "host", true},
		{"host", "HoSt", true},
		{"", "", true},
		{"Host", "Hosts", false},
		{"Host", "Hose", false},
		{"[", "{", false}, // 0x5b and 0x7b differ by 'a'-'A' but are no letters
		{"@", "`", false},
		{"é", "É", false}, // ASCII only
	} {
		if got := EqualFold([]byte(c.b), c.s); got != c.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", c.b, c.s, got, c.want)
		}
	}
}
