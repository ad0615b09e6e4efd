// Package host describes the machine a measurement ran on, for the reports that name it
// (benches/go's cmd/benchreport and examples/benchproxy): one reading of /proc for both, so
// their "Machine:" lines name the CPU alike.
package host

import (
	"os"
	"strings"
)

// CPUModel is the model name of the first CPU in /proc/cpuinfo, or "unknown CPU" where that
// cannot be read (another OS, a restricted /proc).
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}
