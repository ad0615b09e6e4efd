// Package ascii holds the ASCII case folding that HTTP names need, shared by the package
// offheap and its proxy (header names and tokens are ASCII: strings.EqualFold would also fold
// Unicode, and bytes.EqualFold wants two byte slices).
package ascii

// EqualFold reports whether b and s are equal in any ASCII case (without converting either).
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
