package main

import (
	"bytes"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// sink receives parsed samples; *offheap.SampleBatch is one (AddKey copies the key).
type sink interface {
	AddKey(key []byte, ts int64, value float64)
}

// Limits bound what one request may hold.
type Limits struct {
	MaxLine    int // bytes in one line of the line format, newline excluded
	MaxKey     int // bytes of a series key as written (name and labels)
	MaxSamples int // samples in one request
}

const (
	// metricLabel carries the series name in the aggregator's key and in exposition.
	metricLabel = "metric"
	// maxLabels bounds the labels of one series.
	maxLabels = 32
	// maxLabelName is the aggregator's limit on a label name.
	maxLabelName = 256
	// keyOverhead is how much longer the aggregator's key is than the series as written:
	// `name{a="x"}` becomes `metric="name",a="x"` (at most 9 bytes more).
	keyOverhead = 16
	// maxMillis keeps a millisecond timestamp's nanoseconds inside int64.
	maxMillis = math.MaxInt64 / 1_000_000
)

// result is what parsing one request body found. Messages are constants: parsing allocates
// nothing, not even for errors.
type result struct {
	Samples   int    // samples handed to the sink
	Rejected  int    // lines (line format) or array elements (JSON) rejected
	FirstLine int    // line of the first rejected line or element (1-based; 0: none)
	FirstErr  string // why it was rejected
	// Fatal, when not empty, rejects the whole body (JSON syntax, too many samples): the
	// samples already handed to the sink must not be ingested. FatalLine is its line.
	Fatal     string
	FatalLine int
	TooMany   bool // Fatal because the body holds more than Limits.MaxSamples samples
}

func (r *result) reject(line int, msg string) {
	r.Rejected++
	if r.FirstLine == 0 {
		r.FirstLine, r.FirstErr = line, msg
	}
}

// parser parses request bodies into a sink. It keeps its scratch buffers between bodies, so
// once they have grown it allocates nothing. Not for concurrent use.
type parser struct {
	lim    Limits
	key    []byte // the aggregator key being built
	str    []byte // a decoded JSON string (the series)
	name   []byte // a decoded JSON object key
	labels [maxLabels]span
	// The JSON sample being scanned.
	value float64
	ts    int64
	tsSet bool
}

type span struct{ name, value [2]int } // label name and quoted value, as offsets in the series

func newParser(lim Limits) *parser {
	return &parser{lim: lim, key: make([]byte, 0, lim.MaxKey+keyOverhead), str: make([]byte, 0, lim.MaxKey+4),
		name: make([]byte, 0, 16)}
}

func isNameStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isSpace(c byte) bool     { return c == ' ' || c == '\t' }

// series parses a series as written, `name` or `name{label="value",...}`, at the start of s
// and builds the aggregator's key in p.key: `metric="name",label="value",...` with the labels
// sorted by name, so the same series written with its labels in another order is the same
// series. It returns the bytes of s it used, or an error message.
func (p *parser) series(s []byte) (int, string) {
	i := 0
	if i >= len(s) || !(isNameStart(s[i]) || s[i] == ':') {
		return 0, "series name must start with [a-zA-Z_:]"
	}
	for i < len(s) && (isNameStart(s[i]) || s[i] == ':' || isDigit(s[i])) {
		i++
	}
	nameEnd := i
	n := 0
	if i < len(s) && s[i] == '{' {
		i++
		for i < len(s) && s[i] != '}' {
			if n > 0 {
				if s[i] != ',' {
					return 0, "expected ',' or '}' after a label"
				}
				i++
			}
			if n == maxLabels {
				return 0, "too many labels"
			}
			start := i
			if i >= len(s) || !isNameStart(s[i]) {
				return 0, "label name must start with [a-zA-Z_]"
			}
			for i < len(s) && (isNameStart(s[i]) || isDigit(s[i])) {
				i++
			}
			name := s[start:i]
			if len(name) > maxLabelName {
				return 0, "label name too long"
			}
			if string(name) == metricLabel || string(name) == "quantile" {
				return 0, "label name is reserved (metric, quantile)"
			}
			if i >= len(s) || s[i] != '=' {
				return 0, "expected '=' after a label name"
			}
			i++
			if i >= len(s) || s[i] != '"' {
				return 0, "label value must be quoted"
			}
			vstart := i
			i++
			for {
				if i >= len(s) {
					return 0, "unterminated label value"
				}
				c := s[i]
				if c == '"' {
					break
				}
				if c == '\n' {
					return 0, "newline in a label value"
				}
				if c == '\\' {
					if i+1 >= len(s) || (s[i+1] != '\\' && s[i+1] != '"' && s[i+1] != 'n') {
						return 0, `label value escape must be \\, \" or \n`
					}
					i++
				}
				i++
			}
			i++
			p.labels[n] = span{name: [2]int{start, start + len(name)}, value: [2]int{vstart, i}}
			n++
		}
		if i >= len(s) {
			return 0, "unterminated label list"
		}
		i++ // '}'
	}
	if i > p.lim.MaxKey {
		return 0, "series key too long"
	}
	if !utf8.Valid(s[:i]) {
		return 0, "series key is not UTF-8"
	}
	// Insertion sort of at most maxLabels spans: no allocation, and labels are few.
	ls := p.labels[:n]
	for a := 1; a < len(ls); a++ {
		for b := a; b > 0 && bytes.Compare(s[ls[b].name[0]:ls[b].name[1]], s[ls[b-1].name[0]:ls[b-1].name[1]]) < 0; b-- {
			ls[b], ls[b-1] = ls[b-1], ls[b]
		}
	}
	for a := 1; a < len(ls); a++ {
		if bytes.Equal(s[ls[a].name[0]:ls[a].name[1]], s[ls[a-1].name[0]:ls[a-1].name[1]]) {
			return 0, "duplicate label name"
		}
	}
	k := append(p.key[:0], metricLabel+`="`...)
	k = append(k, s[:nameEnd]...)
	k = append(k, '"')
	for _, l := range ls {
		k = append(k, ',')
		k = append(k, s[l.name[0]:l.name[1]]...)
		k = append(k, '=')
		k = append(k, s[l.value[0]:l.value[1]]...)
	}
	p.key = k
	return i, ""
}

// parseFloat parses the number text b (already checked against the grammar, so the only
// error left is ErrRange, whose ±Inf or 0 is kept: the aggregator counts ±Inf as Invalid).
// The string is a view of b, not a copy: strconv does not keep it (it clones the text into
// the error it returns), so no allocation happens for valid numbers.
func parseFloat(b []byte) float64 {
	v, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	return v
}

// lineValue checks the line format's value grammar: a decimal float
// `[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?`, or NaN, +Inf, -Inf (the Prometheus spellings).
func lineValue(b []byte) (float64, bool) {
	switch string(b) {
	case "NaN":
		return math.NaN(), true
	case "+Inf":
		return math.Inf(1), true
	case "-Inf":
		return math.Inf(-1), true
	}
	i := 0
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	digits := 0
	for i < len(b) && isDigit(b[i]) {
		i++
		digits++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		exp := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		if i == exp {
			return 0, false
		}
	}
	if i != len(b) {
		return 0, false
	}
	return parseFloat(b), true
}

// millis parses an integer timestamp in milliseconds, `-?\d+`, into nanoseconds.
func millis(b []byte) (int64, bool) {
	i := 0
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		i++
	}
	if i == len(b) {
		return 0, false
	}
	var ms int64
	for ; i < len(b); i++ {
		if !isDigit(b[i]) {
			return 0, false
		}
		ms = ms*10 + int64(b[i]-'0')
		if ms > maxMillis {
			return 0, false
		}
	}
	if neg {
		ms = -ms
	}
	return ms * 1_000_000, true
}

// lines parses the line format: one sample per line, `<series> <value> [<unix-ms>]`, fields
// separated by spaces or tabs; blank lines and lines starting with '#' are skipped; a line may
// end in "\r\n". Samples without a timestamp get now (nanoseconds). A malformed line is
// rejected and counted; the others go to out.
func (p *parser) lines(body []byte, now int64, out sink) result {
	var r result
	for line := 1; len(body) > 0; line++ {
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		if len(l) > p.lim.MaxLine {
			r.reject(line, "line too long")
			continue
		}
		l = bytes.TrimRight(l, " \t\r")
		l = bytes.TrimLeft(l, " \t")
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		n, msg := p.series(l)
		if msg != "" {
			r.reject(line, msg)
			continue
		}
		l = l[n:]
		if len(l) == 0 || !isSpace(l[0]) {
			r.reject(line, "expected a space after the series")
			continue
		}
		l = bytes.TrimLeft(l, " \t")
		end := 0
		for end < len(l) && !isSpace(l[end]) {
			end++
		}
		v, ok := lineValue(l[:end])
		if !ok {
			r.reject(line, "bad value")
			continue
		}
		ts := now
		if l = bytes.TrimLeft(l[end:], " \t"); len(l) > 0 {
			if ts, ok = millis(l); !ok {
				r.reject(line, "bad timestamp (integer milliseconds) or trailing text")
				continue
			}
		}
		if r.Samples == p.lim.MaxSamples {
			r.Fatal, r.FatalLine, r.TooMany = "too many samples in one request", line, true
			return r
		}
		out.AddKey(p.key, ts, v)
		r.Samples++
	}
	return r
}
