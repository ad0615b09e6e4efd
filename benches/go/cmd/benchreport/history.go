package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// summary is what the history keeps of one BENCHMARKS.md: when and where it was made, and per
// row (in order, under its section) the result, the speedup and the verdict.
type summary struct {
	when, machine, commit string
	order                 []summaryRow
	rows                  map[string]summaryRow
}

type summaryRow struct {
	section, name, result, peer, speedup, met string
}

var (
	writtenLine = regexp.MustCompile("^Written by `make bench` on ([0-9-]+ [0-9:]+ UTC)(?:, code at commit ([^.]+))?\\.")
	// verdict is the first word of a met cell ("no; bound: ..." is "no").
	verdict = regexp.MustCompile(`^(yes|no)\b`)
)

// parseSummary reads the benchmark tables of a BENCHMARKS.md written by this tool, by column
// name, so that files written before a column was added still read. Blocks other targets own
// (between markers) are not part of it. A file not written by `make bench` gives a summary
// without a date.
func parseSummary(md string) summary {
	s := summary{rows: map[string]summaryRow{}}
	section := ""
	var cols map[string]int
	for _, ln := range strings.Split(md, "\n") {
		switch {
		case strings.HasPrefix(ln, "<!-- "):
			return s
		case writtenLine.MatchString(ln):
			m := writtenLine.FindStringSubmatch(ln)
			s.when, s.commit = m[1], m[2]
		case strings.HasPrefix(ln, "Machine: "):
			s.machine = strings.TrimSuffix(strings.TrimPrefix(ln, "Machine: "), ".")
		case strings.HasPrefix(ln, "## "):
			section, cols = strings.TrimPrefix(ln, "## "), nil
		case strings.HasPrefix(ln, "| benchmark |"):
			cols = map[string]int{}
			for i, c := range cells(ln) {
				cols[c] = i
			}
		case strings.HasPrefix(ln, "|---"), !strings.HasPrefix(ln, "| "), cols == nil:
		default:
			c := cells(ln)
			get := func(name string) string {
				if i, ok := cols[name]; ok && i < len(c) {
					return c[i]
				}
				return ""
			}
			r := summaryRow{section: section, name: get("benchmark"), result: get("result"),
				peer: get("peer"), speedup: get("speedup"), met: verdict.FindString(get("met"))}
			if strings.HasPrefix(r.result, "**not run**") {
				r.result = "not run"
			}
			s.order = append(s.order, r)
			s.rows[r.name] = r
		}
	}
	return s
}

// cells splits a markdown table row.
func cells(row string) []string {
	parts := strings.Split(strings.Trim(strings.TrimSpace(row), "|"), "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// historyIntro opens a new docs/bench-history.md.
const historyIntro = `# Benchmark history

Summaries of earlier ` + "`make bench`" + ` runs, newest first. Before ` + "`make bench`" + ` rewrites
BENCHMARKS.md, benchreport (benches/go/cmd/benchreport) adds here the summary of the file it
replaces: per benchmark its result, its speedup over its peer and whether it met its target.
Follow a row down the runs to tell a regression from run-to-run noise. Each entry names its
machine: results from different machines do not compare.
`

// heading is the history's heading for the run s summarizes; it is also how a run already in
// the history is recognized.
func (s summary) heading() string { return "## make bench of " + s.when }

// entry formats s for the history: the heading, the machine and code, and one table line per
// benchmark (a line per section names it).
func (s summary) entry() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s", s.heading(), s.machine)
	if s.commit != "" {
		fmt.Fprintf(&b, "; code at commit %s", s.commit)
	}
	b.WriteString(".\n\n| benchmark | result | peer | speedup | met |\n|---|---|---|---|---|\n")
	section := ""
	for _, r := range s.order {
		if r.section != section {
			section = r.section
			fmt.Fprintf(&b, "| **%s** | | | | |\n", section)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.name, r.result, r.peer, r.speedup, r.met)
	}
	return b.String()
}

// withEntry returns the history text with s's entry added as the newest (after the intro),
// and whether it was added: a run already present is not added twice.
func withEntry(history string, s summary) (string, bool) {
	if history == "" {
		history = historyIntro
	}
	if strings.Contains(history, s.heading()+"\n") {
		return history, false
	}
	i := strings.Index(history, "\n## ")
	if i < 0 {
		return strings.TrimRight(history, "\n") + "\n\n" + s.entry(), true
	}
	return history[:i+1] + s.entry() + "\n" + history[i+1:], true
}

// addToHistory adds the summary of the BENCHMARKS.md text old to the history file at path
// (created when missing), and says what it did.
func addToHistory(path, old string) (string, error) {
	s := parseSummary(old)
	if s.when == "" {
		return "nothing to add (no `make bench` run in the file)", nil
	}
	cur, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return "", err
	}
	text, added := withEntry(string(cur), s)
	if !added {
		return "the run of " + s.when + " is already there", nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", err
	}
	return "added the run of " + s.when, nil
}
