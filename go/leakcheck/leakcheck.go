package leakcheck

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// HeapSlack is how far the Rust heap may stay above the baseline in [Baseline.Wait]. The handle
// table grows by segments (24 KiB for each 512 handles) that it keeps for the life of the process,
// so code that had more objects open at once than the process ever had before leaves a segment or
// two behind; a leak that grows with the work done passes this quickly.
const HeapSlack = 64 << 10

// pollInterval is how long Wait sleeps between two readings.
const pollInterval = 20 * time.Millisecond

// maxNamedFDs bounds how many new fds an error names, so that a leak of thousands of
// connections still gives a readable message.
const maxNamedFDs = 20

// Baseline is what the process held before the checked code ran. Make one with [Take]; the
// fields are there to print or to check further (Rust.HandlesByKind, for one).
type Baseline struct {
	// FDs is the number of open file descriptors, -1 where the system has no /proc/self/fd.
	FDs int
	// Goroutines is runtime.NumGoroutine().
	Goroutines int
	// Rust is offheap's Rust heap and handle counters.
	Rust offheap.RustStats

	// fdTargets is what each fd open at the baseline pointed to, to name the new ones.
	fdTargets map[int]string
}

// Take warms the state the process builds on first use and keeps, then records the baseline.
// Without the warm-up a check would count that state as the checked code's leak: one offheap
// Buffer made and closed (the handle table's first segment, the relay pools), one loopback TCP
// connection (Go's netpoller, whose epoll fd and eventfd are opened on the first network use),
// the relay pools trimmed and a garbage collection.
func Take() (Baseline, error) {
	if err := offheap.Available(); err != nil {
		return Baseline{}, fmt.Errorf("leakcheck: %w", err)
	}
	if err := warm(); err != nil {
		return Baseline{}, fmt.Errorf("leakcheck: warming up: %w", err)
	}
	offheap.TrimRelayPools()
	runtime.GC()
	s, err := offheap.ReadRustStats()
	if err != nil {
		return Baseline{}, fmt.Errorf("leakcheck: %w", err)
	}
	return Baseline{FDs: countFDs(), Goroutines: runtime.NumGoroutine(), Rust: s, fdTargets: fdTargets()}, nil
}

// warm makes and closes what builds the process's lazily made state.
func warm() error {
	b, err := offheap.NewBuffer()
	if err != nil {
		return err
	}
	b.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	// The listener's backlog completes the connection: nothing needs to accept it.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	return c.Close()
}

// Wait polls until everything is back to the baseline, and returns nil then: open fds,
// goroutines and live handles at most what they were, the Rust heap at most [HeapSlack] above
// it, and no relay pipe or buffer alive (pooled or in use: the pools are trimmed first, so a
// relay, engine or Buffer still open keeps some). Before each reading it runs the garbage
// collector twice, which closes what only a collection frees (Go's own splice pipes, pooled in a
// sync.Pool that takes two collections to empty, and objects whose cleanup closes them), and
// trims the relay pools.
//
// When limit passes first, it returns an error that names every quantity not back, now and at
// the baseline, the live handles by kind that grew, and the targets of the fds opened since
// (from /proc/self/fd). It checks at least once, also with a limit of 0.
func (b Baseline) Wait(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		runtime.GC()
		runtime.GC()
		offheap.TrimRelayPools()
		notBack, err := b.compare()
		if err != nil {
			return err
		}
		if len(notBack) == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("leakcheck: not back to baseline after %v: %s", limit, strings.Join(notBack, "; "))
		}
		time.Sleep(pollInterval)
	}
}

// compare reads the process's state once and describes each quantity above the baseline.
func (b Baseline) compare() ([]string, error) {
	s, err := offheap.ReadRustStats()
	if err != nil {
		return nil, fmt.Errorf("leakcheck: %w", err)
	}
	rc, err := offheap.ReadRelayCounters()
	if err != nil {
		return nil, fmt.Errorf("leakcheck: %w", err)
	}
	var notBack []string
	if fds := countFDs(); b.FDs >= 0 && fds > b.FDs {
		notBack = append(notBack, fmt.Sprintf("fds %d (was %d; new: %s)", fds, b.FDs, b.describeNewFDs()))
	}
	if g := runtime.NumGoroutine(); g > b.Goroutines {
		notBack = append(notBack, fmt.Sprintf("goroutines %d (was %d)", g, b.Goroutines))
	}
	if s.LiveHandles > b.Rust.LiveHandles {
		notBack = append(notBack, fmt.Sprintf("handles %d (was %d; %s)", s.LiveHandles, b.Rust.LiveHandles,
			grownKinds(b.Rust.HandlesByKind, s.HandlesByKind)))
	}
	if s.LiveBytes > b.Rust.LiveBytes+HeapSlack {
		notBack = append(notBack, fmt.Sprintf("Rust heap %d bytes (was %d, slack %d)", s.LiveBytes, b.Rust.LiveBytes, HeapSlack))
	}
	if rc.PipesLive != 0 {
		notBack = append(notBack, fmt.Sprintf("relay pipes %d (want 0)", rc.PipesLive))
	}
	if rc.BuffersLive != 0 {
		notBack = append(notBack, fmt.Sprintf("relay buffers %d (want 0)", rc.BuffersLive))
	}
	return notBack, nil
}

// describeNewFDs lists the fds opened since the baseline, at most maxNamedFDs of them.
func (b Baseline) describeNewFDs() string {
	fds := newFDs(b.fdTargets)
	if len(fds) == 0 {
		// More fds than at the baseline means one number at least that was not open then,
		// unless it was closed while the directory was read.
		return "none left by the time they were read"
	}
	if len(fds) > maxNamedFDs {
		return strings.Join(fds[:maxNamedFDs], ", ") + fmt.Sprintf(" and %d more", len(fds)-maxNamedFDs)
	}
	return strings.Join(fds, ", ")
}

// grownKinds names the kinds of handle with more live handles than at the baseline, as
// "buffer 2 (was 0)". When the total grew, one kind at least did.
func grownKinds(was, now [16]uint64) string {
	var kinds []string
	for k := range now {
		if now[k] > was[k] {
			kinds = append(kinds, fmt.Sprintf("%v %d (was %d)", offheap.HandleKind(k), now[k], was[k]))
		}
	}
	return strings.Join(kinds, ", ")
}
