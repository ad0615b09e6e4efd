package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The naive reference parsers the hand-written ones are checked against: regular expressions,
// strings.FieldsFunc, strconv on copied strings and encoding/json.

type sample struct {
	key   string
	ts    int64
	value float64
}

func sameSample(a, b sample) bool {
	return a.key == b.key && a.ts == b.ts && (a.value == b.value || math.IsNaN(a.value) && math.IsNaN(b.value))
}

type recorder struct{ got []sample }

func (r *recorder) AddKey(key []byte, ts int64, value float64) {
	r.got = append(r.got, sample{string(key), ts, value})
}

// refOutcome is what a reference parser makes of a body.
type refOutcome struct {
	samples  []sample
	rejected int
	fatal    bool
	tooMany  bool
}

// add appends s, or, when the body already holds maxSamples, marks it fatal (too many
// samples) and reports false.
func (o *refOutcome) add(s sample, maxSamples int) bool {
	if len(o.samples) == maxSamples {
		o.fatal, o.tooMany = true, true
		return false
	}
	o.samples = append(o.samples, s)
	return true
}

const labelRE = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"`

var (
	refSeries = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:` + labelRE + `)(?:,` + labelRE + `)*)?\})?`)
	refLabel  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)=("(?:[^"\\\n]|\\[\\"n])*")`)
	// NaN and ±Inf as the line format spells them; strconv.ParseFloat reads all three.
	refNumber = regexp.MustCompile(`^(?:NaN|[+-]Inf|[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)$`)
	refInt    = regexp.MustCompile(`^-?[0-9]+$`)
)

// refKey parses a series at the start of s: the aggregator key and the length used.
func refKey(s string, lim Limits) (key string, n int, ok bool) {
	m := refSeries.FindStringSubmatchIndex(s)
	if m == nil {
		return "", 0, false
	}
	n = m[1]
	if n > lim.MaxKey || !utf8.ValidString(s[:n]) {
		return "", 0, false
	}
	name := s[m[2]:m[3]]
	type label struct{ name, value string }
	var labels []label
	if m[4] >= 0 {
		for _, l := range refLabel.FindAllStringSubmatch(s[m[4]:m[5]], -1) {
			labels = append(labels, label{l[1], l[2]})
		}
	}
	if len(labels) > maxLabels {
		return "", 0, false
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i].name < labels[j].name })
	var parts []string
	for i, l := range labels {
		if len(l.name) > 256 || i > 0 && labels[i-1].name == l.name {
			return "", 0, false
		}
		parts = append(parts, l.name+"="+l.value)
	}
	if len(parts) == 0 {
		return name, n, true
	}
	return name + "{" + strings.Join(parts, ",") + "}", n, true
}

func refValue(s string) (float64, bool) {
	if !refNumber.MatchString(s) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return v, true
}

func refMillis(s string) (int64, bool) {
	if !refInt.MatchString(s) {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v > maxMillis || v < -maxMillis {
		return 0, false
	}
	return v * 1_000_000, true
}

func refLines(body string, lim Limits, now int64) refOutcome {
	var o refOutcome
	lines := strings.Split(body, "\n")
	for _, raw := range lines {
		if len(raw) > lim.MaxLine {
			o.rejected++
			continue
		}
		l := strings.Trim(strings.TrimRight(raw, " \t\r"), " \t")
		if l == "" || l[0] == '#' {
			continue
		}
		key, n, ok := refKey(l, lim)
		rest := l[n:]
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
			o.rejected++
			continue
		}
		f := strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(f) < 1 || len(f) > 2 {
			o.rejected++
			continue
		}
		v, ok := refValue(f[0])
		ts := now
		if ok && len(f) == 2 {
			ts, ok = refMillis(f[1])
		}
		if !ok {
			o.rejected++
			continue
		}
		if !o.add(sample{key, ts, v}, lim.MaxSamples) {
			return o
		}
	}
	return o
}

// jsonDepth is the deepest nesting of arrays and objects in a valid JSON text.
func jsonDepth(b []byte) int {
	depth, deepest, in, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case in && esc:
			esc = false
		case in && c == '\\':
			esc = true
		case in && c == '"':
			in = false
		case in:
		case c == '"':
			in = true
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

func isNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

func refJSON(body []byte, lim Limits, now int64) refOutcome {
	var o refOutcome
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if !json.Valid(body) || jsonDepth(body) > maxDepth || len(trimmed) == 0 || trimmed[0] != '[' {
		o.fatal = true
		return o
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		o.fatal = true
		return o
	}
	for _, e := range elems {
		var m map[string]json.RawMessage
		if e[0] != '{' || json.Unmarshal(e, &m) != nil {
			o.rejected++
			continue
		}
		bad := false
		for k := range m {
			if k != "series" && k != "value" && k != "ts" {
				bad = true
			}
		}
		rs, rv := m["series"], m["value"]
		var series string
		if bad || len(rs) == 0 || rs[0] != '"' || !utf8.Valid(rs) || json.Unmarshal(rs, &series) != nil || !isNumber(rv) {
			o.rejected++
			continue
		}
		key, n, ok := refKey(series, lim)
		if !ok || n != len(series) {
			o.rejected++
			continue
		}
		v, err := strconv.ParseFloat(string(rv), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			o.rejected++
			continue
		}
		ts := now
		if rt, has := m["ts"]; has {
			if ts, ok = refMillis(string(rt)); !ok {
				o.rejected++
				continue
			}
		}
		if !o.add(sample{key, ts, v}, lim.MaxSamples) {
			return o
		}
	}
	return o
}
