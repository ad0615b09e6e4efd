// Package leakcheck checks, in a service's own tests, that everything offheap lent the process
// is back once the code under test has closed what it made.
//
// Go's leak tools (goleak, heap profiles) do not see what offheap holds: the Rust heap, the
// handles of live objects, the relay's pipes and buffers, the file descriptors the engine owns.
// [Take] records them, with the process's open fds and goroutines, before the code runs;
// [Baseline.Wait], after it has closed everything, polls until each is back, or returns an error
// that names every quantity that is not (now and at the baseline) and what the fds opened since
// point to:
//
//	func TestCheckoutLeavesNothing(t *testing.T) {
//		base, err := leakcheck.Take()
//		if err != nil {
//			t.Fatal(err)
//		}
//		runCheckout(t) // closes every offheap object, connection and goroutine it started
//		if err := base.Wait(5 * time.Second); err != nil {
//			t.Fatal(err)
//		}
//	}
//
// The counts are process-wide: a test running in parallel with the checked code (t.Parallel),
// or a goroutine an earlier test left behind, shows up in them, so run checked tests serially.
// Fds are read from /proc/self/fd; where the system has none, [Baseline.FDs] is -1 and fds are
// not checked. Built with CGO_ENABLED=0, [Take] returns an error wrapping
// [offheap.ErrUnavailable].
package leakcheck
