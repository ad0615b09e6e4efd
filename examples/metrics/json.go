package main

import (
	"bytes"
	"encoding/hex"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON format is an array of sample objects:
//
//	[{"series":"http_latency_seconds{route=\"/a\"}","value":0.25,"ts":1700000000000}, ...]
//
// "series" (a string, parsed as in the line format) and "value" (a number) are required; "ts"
// (an integer, Unix milliseconds) is optional. The body must be valid JSON (RFC 8259): on a
// syntax error the whole body is rejected. An element that is valid JSON but not such an
// object (another type, a missing, mistyped or unknown field, a bad series) is rejected and
// counted, and the others are kept. A field given twice counts once, the last one, as
// encoding/json does. NaN and Inf are not JSON numbers; numbers beyond float64 become ±Inf
// and the aggregator counts them Invalid.
//
// The scanner is written by hand over the body bytes: strings are decoded (escapes, \u with
// surrogate pairs, lone surrogates as U+FFFD) into a reused buffer, numbers are checked
// against the JSON grammar and converted by strconv through a string view of the body.

// maxDepth bounds the nesting of JSON values (the sample array and its objects count).
const maxDepth = 64

type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str scans a string at s.i (the opening quote) and appends its decoded bytes to dst, up to
// limit bytes (more sets over). Raw bytes are copied as they are (invalid UTF-8 included, for
// the caller to judge); escapes are decoded.
func (s *jsonScanner) str(dst []byte, limit int) (out []byte, over bool, msg string) {
	s.i++
	for {
		if s.i >= len(s.b) {
			return dst, over, "unterminated string"
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return dst, over, ""
		case c < 0x20:
			return dst, over, "control character in a string"
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return dst, over, "unterminated string"
			}
			e := s.b[s.i+1]
			s.i += 2
			var r rune
			switch e {
			case '"', '\\', '/':
				r = rune(e)
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				var ok bool
				if r, ok = s.hex4(); !ok {
					return dst, over, `bad \u escape`
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(utf8.RuneError)
					if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
						save := s.i
						s.i += 2
						lo, ok := s.hex4()
						if !ok {
							return dst, over, `bad \u escape`
						}
						if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
							r2 = d
						} else {
							s.i = save // the next escape stands on its own
						}
					}
					r = r2
				}
			default:
				return dst, over, "bad escape in a string"
			}
			if len(dst)+utf8.RuneLen(r) > limit {
				over = true
			} else {
				dst = utf8.AppendRune(dst, r)
			}
		default:
			if len(dst) >= limit {
				over = true
			} else {
				dst = append(dst, c)
			}
			s.i++
		}
	}
}

func (s *jsonScanner) hex4() (rune, bool) {
	var u [2]byte
	if s.i+4 > len(s.b) {
		return 0, false
	}
	if _, err := hex.Decode(u[:], s.b[s.i:s.i+4]); err != nil {
		return 0, false
	}
	s.i += 4
	return rune(u[0])<<8 | rune(u[1]), true
}

// number scans a number at s.i: `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`. It returns its text
// and whether it is an integer (no fraction, no exponent).
func (s *jsonScanner) number() (text []byte, integer bool, msg string) {
	start := s.i
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		for isDigit(s.peek()) {
			s.i++
		}
	default:
		return nil, false, "bad number"
	}
	integer = true
	if s.peek() == '.' {
		s.i++
		integer = false
		if !isDigit(s.peek()) {
			return nil, false, "bad number"
		}
		for isDigit(s.peek()) {
			s.i++
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		integer = false
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !isDigit(s.peek()) {
			return nil, false, "bad number"
		}
		for isDigit(s.peek()) {
			s.i++
		}
	}
	return s.b[start:s.i], integer, ""
}

func (s *jsonScanner) literal(word string) string {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return "bad literal"
	}
	s.i += len(word)
	return ""
}

// skip scans any value at s.i, checking its syntax.
func (s *jsonScanner) skip(depth int) string {
	switch c := s.peek(); {
	case c == '"':
		_, _, msg := s.str(nil, 0)
		return msg
	case c == '-' || isDigit(c):
		_, _, msg := s.number()
		return msg
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '[' || c == '{':
		if depth > maxDepth {
			return "nesting too deep"
		}
		end := byte(']')
		if c == '{' {
			end = '}'
		}
		s.i++
		s.ws()
		if s.peek() == end {
			s.i++
			return ""
		}
		for {
			if c == '{' {
				if s.peek() != '"' {
					return "expected a string key"
				}
				if _, _, msg := s.str(nil, 0); msg != "" {
					return msg
				}
				s.ws()
				if s.peek() != ':' {
					return "expected ':'"
				}
				s.i++
				s.ws()
			}
			if msg := s.skip(depth + 1); msg != "" {
				return msg
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				s.ws()
			case end:
				s.i++
				return ""
			default:
				return "expected ',' or the end of an array or object"
			}
		}
	case c == 0 && s.i >= len(s.b):
		return "unexpected end of input"
	}
	return "unexpected character"
}

type field uint8

const (
	absent field = iota
	good
	bad
)

// json parses the JSON format (see above) into out; samples without "ts" get now.
func (p *parser) json(body []byte, now int64, out sink) result {
	var r result
	s := jsonScanner{b: body}
	fatal := func(msg string) result {
		r.Fatal, r.FatalLine = msg, 1+bytes.Count(body[:min(s.i, len(body))], []byte{'\n'})
		return r
	}
	s.ws()
	if s.peek() != '[' {
		if s.i >= len(body) {
			return fatal("empty body")
		}
		return fatal("expected an array of samples")
	}
	s.i++
	s.ws()
	if s.peek() == ']' {
		s.i++
	} else {
		for {
			start := s.i
			elemErr, msg := p.element(&s)
			if msg != "" {
				return fatal(msg)
			}
			if elemErr != "" {
				r.reject(1+bytes.Count(body[:start], []byte{'\n'}), elemErr)
			} else {
				if r.Samples == p.lim.MaxSamples {
					r.TooMany = true
					return fatal("too many samples in one request")
				}
				ts := now
				if p.tsSet {
					ts = p.ts
				}
				out.AddKey(p.key, ts, p.value)
				r.Samples++
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				s.ws()
				continue
			case ']':
				s.i++
			default:
				return fatal("expected ',' or ']' after a sample")
			}
			break
		}
	}
	s.ws()
	if s.i != len(body) {
		return fatal("data after the array")
	}
	return r
}

// element scans one array element. A syntax error is returned as msg (the body is rejected);
// a valid value that is not a good sample as elemErr. On success p.key, p.value and p.ts
// (p.tsSet) hold the sample.
func (p *parser) element(s *jsonScanner) (elemErr, msg string) {
	if s.peek() != '{' {
		if msg := s.skip(2); msg != "" {
			return "", msg
		}
		return "sample is not an object", ""
	}
	s.i++
	s.ws()
	series, value, ts, unknown := absent, absent, absent, false
	p.tsSet = false
	if s.peek() == '}' {
		s.i++
		return "sample has no series", ""
	}
	for {
		if s.peek() != '"' {
			return "", "expected a string key"
		}
		var over bool
		p.name, over, msg = s.str(p.name[:0], 8)
		if msg != "" {
			return "", msg
		}
		s.ws()
		if s.peek() != ':' {
			return "", "expected ':'"
		}
		s.i++
		s.ws()
		c := s.peek()
		switch {
		case over:
			unknown = true
			msg = s.skip(3)
		case string(p.name) == "series" && c == '"':
			p.str, over, msg = s.str(p.str[:0], p.lim.MaxKey)
			series = good
			if over {
				series = bad
			}
		case string(p.name) == "value" && (c == '-' || isDigit(c)):
			var text []byte
			text, _, msg = s.number()
			if msg == "" {
				p.value, value = parseFloat(text), good
			}
		case string(p.name) == "ts" && (c == '-' || isDigit(c)):
			var text []byte
			var integer, ok bool
			text, integer, msg = s.number()
			ts = bad
			if msg == "" && integer {
				if p.ts, ok = millis(text); ok {
					ts = good
				}
			}
		case string(p.name) == "series":
			series, msg = bad, s.skip(3)
		case string(p.name) == "value":
			value, msg = bad, s.skip(3)
		case string(p.name) == "ts":
			ts, msg = bad, s.skip(3)
		default:
			unknown = true
			msg = s.skip(3)
		}
		if msg != "" {
			return "", msg
		}
		s.ws()
		if s.peek() == ',' {
			s.i++
			s.ws()
			continue
		}
		if s.peek() != '}' {
			return "", "expected ',' or '}' in a sample"
		}
		s.i++
		break
	}
	switch {
	case unknown:
		return "sample has an unknown field", ""
	case series == absent:
		return "sample has no series", ""
	case series == bad:
		return "series must be a string of at most the key limit", ""
	case value != good:
		return "value must be a number", ""
	case ts == bad:
		return "ts must be an integer (Unix milliseconds)", ""
	}
	n, keyErr := p.series(p.str)
	if keyErr != "" {
		return keyErr, ""
	}
	if n != len(p.str) {
		return "trailing text after the series", ""
	}
	p.tsSet = ts == good
	return "", ""
}
