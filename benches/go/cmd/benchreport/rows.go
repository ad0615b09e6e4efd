package main

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

// rowsText is the table of every row of BENCHMARKS.md (its format is described at its top).
//
//go:embed rows.txt
var rowsText string

// rows are the rows of rows.txt; rowsErr is what made it unreadable (main reports it).
var rows, rowsErr = parseRows(rowsText)

// parseRows reads rows in the format of rows.txt: "section:" starts a table, "row:" a row of
// it, and each other "key: value" line sets a field of the last row; "#" starts a comment
// line. A key set twice in a row, an unknown key and a value that does not parse are errors.
func parseRows(text string) ([]Row, error) {
	var rs []Row
	section := ""
	var set map[string]bool // the keys of the last row
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		val = strings.TrimSpace(val)
		if !ok || val == "" {
			return nil, fmt.Errorf("rows.txt:%d: want \"key: value\", got %q", i+1, line)
		}
		switch {
		case key == "section":
			section = val
			continue
		case key == "row":
			rs = append(rs, Row{Section: section, Name: val})
			set = map[string]bool{}
			continue
		case len(rs) == 0:
			return nil, fmt.Errorf("rows.txt:%d: %q before the first row", i+1, key)
		case set[key]:
			return nil, fmt.Errorf("rows.txt:%d: %q set twice in row %q", i+1, key, rs[len(rs)-1].Name)
		}
		set[key] = true
		setter, ok := setters[key]
		if !ok {
			return nil, fmt.Errorf("rows.txt:%d: unknown key %q", i+1, key)
		}
		if err := setter(&rs[len(rs)-1], val); err != nil {
			return nil, fmt.Errorf("rows.txt:%d: %w", i+1, err)
		}
	}
	return rs, nil
}

// setters are the keys of rows.txt, each with what sets its field of a Row from a value.
var setters = map[string]func(r *Row, val string) error{
	"bench":       text(func(r *Row) *string { return &r.Bench }),
	"peer":        text(func(r *Row) *string { return &r.Peer }),
	"metric":      text(func(r *Row) *string { return &r.Metric }),
	"peer-metric": text(func(r *Row) *string { return &r.PeerMetric }),
	"target":      text(func(r *Row) *string { return &r.Target }),
	"bound":       text(func(r *Row) *string { return &r.Bound.Row }),
	"why":         text(func(r *Row) *string { return &r.Bound.Why }),
	"max":         number(func(r *Row) *float64 { return &r.Max }),
	"min-mbs":     number(func(r *Row) *float64 { return &r.MinMBs }),
	"met": func(r *Row, val string) (err error) {
		r.Met, err = parseMet(val)
		return err
	},
	"zero-allocs": func(r *Row, val string) error {
		if val != "yes" {
			return fmt.Errorf("zero-allocs: %q, want yes (or no line)", val)
		}
		r.ZeroAllocs = true
		return nil
	},
}

// text sets a string field to the value as written.
func text(field func(*Row) *string) func(*Row, string) error {
	return func(r *Row, val string) error {
		*field(r) = val
		return nil
	}
}

// number sets a float field to the value read as a number.
func number(field func(*Row) *float64) func(*Row, string) error {
	return func(r *Row, val string) (err error) {
		*field(r), err = strconv.ParseFloat(val, 64)
		return err
	}
}

// parseMet reads a ratio target: "at most X" (AtMost) or "at least X" (AtLeast).
func parseMet(s string) (func(float64) bool, error) {
	for prefix, target := range map[string]func(float64) func(float64) bool{"at most ": AtMost, "at least ": AtLeast} {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			x, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				return nil, fmt.Errorf("met: %w", err)
			}
			return target(x), nil
		}
	}
	return nil, fmt.Errorf("met: %q, want \"at most X\" or \"at least X\"", s)
}
