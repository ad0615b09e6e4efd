package main

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// result is one benchmark's samples, by unit.
type result struct {
	metrics map[string][]float64 // unit -> samples (one per -count)
}

// median returns the median sample in unit, and whether there is any.
func (r *result) median(unit string) (float64, bool) {
	v := append([]float64(nil), r.metrics[unit]...)
	if len(v) == 0 {
		return 0, false
	}
	sort.Float64s(v)
	return v[len(v)/2], true
}

// benchLine matches one result line of `go test -bench`: the name without its Benchmark prefix
// and -GOMAXPROCS suffix, then value-unit pairs.
var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseGo adds the results of `go test -bench` output (several lines per benchmark with -count)
// to into, keyed "go:<name>".
func parseGo(path string, into map[string]*result) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		key := "go:" + m[1]
		r := into[key]
		if r == nil {
			r = &result{metrics: map[string][]float64{}}
			into[key] = r
		}
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			r.metrics[fields[i+1]] = append(r.metrics[fields[i+1]], v)
		}
	}
	return sc.Err()
}

// parseCriterion adds criterion's results under dir (each bench's new/benchmark.json and
// estimates.json) to into, keyed "criterion:<full id>": the median in ns/op, and MB/s when the
// bench declares a byte throughput.
func parseCriterion(dir string, into map[string]*result) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Name() != "benchmark.json" || filepath.Base(filepath.Dir(path)) != "new" {
			return nil
		}
		var meta struct {
			FullID     string `json:"full_id"`
			Throughput *struct {
				Bytes    *float64 `json:"Bytes"`
				Elements *float64 `json:"Elements"`
			} `json:"throughput"`
		}
		var est struct {
			Median struct {
				Point float64 `json:"point_estimate"`
			} `json:"median"`
		}
		if err := readJSON(path, &meta); err != nil {
			return err
		}
		if err := readJSON(filepath.Join(filepath.Dir(path), "estimates.json"), &est); err != nil {
			return err
		}
		r := &result{metrics: map[string][]float64{"ns/op": {est.Median.Point}}}
		if t := meta.Throughput; t != nil && t.Bytes != nil && est.Median.Point > 0 {
			r.metrics["MB/s"] = []float64{*t.Bytes / est.Median.Point * 1e3}
		}
		into["criterion:"+meta.FullID] = r
		return nil
	})
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
