package leakcheck

import (
	"os"
	"sort"
	"strconv"
)

// fdDir lists the process's open file descriptors, one entry per fd, named by its number.
const fdDir = "/proc/self/fd"

// countFDs returns the number of open fds, or -1 where the system has no /proc/self/fd.
func countFDs() int {
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return -1
	}
	// Reading the directory holds one fd of its own, open only while it is read.
	return len(ents) - 1
}

// fdTargets returns what each open fd points to (a path, socket:[inode], pipe:[inode],
// anon_inode:[eventpoll] and the like), by fd number; nil where the system has no /proc/self/fd.
func fdTargets() map[int]string {
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return nil
	}
	// The fd that read the directory is closed by now; it pointed to the directory itself.
	self := "/proc/" + strconv.Itoa(os.Getpid()) + "/fd"
	m := make(map[int]string, len(ents))
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// An fd closed since the directory was read has no target: it is not open.
		if target, err := os.Readlink(fdDir + "/" + e.Name()); err == nil && target != self {
			m[n] = target
		}
	}
	return m
}

// newFDs returns the fds open now that were not open at the baseline (by number, or with
// another target under the same number), in order, as "fd 7 -> socket:[1234]".
func newFDs(base map[int]string) []string {
	now := fdTargets()
	fds := make([]int, 0, len(now))
	for n, target := range now {
		if was, ok := base[n]; !ok || was != target {
			fds = append(fds, n)
		}
	}
	sort.Ints(fds)
	out := make([]string, len(fds))
	for i, n := range fds {
		out[i] = "fd " + strconv.Itoa(n) + " -> " + now[n]
	}
	return out
}
