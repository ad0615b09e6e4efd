# Sorts valgrind's report on the Go exerciser into errors that count and errors on memory
# valgrind cannot judge.
#
# Valgrind tracks malloc'd memory (all of the library's: `make sanitize` builds it with the
# system allocator), thread stacks and uninitialised values. It does not know Go's memory: Go's
# heap arena, where goroutine stacks live too, is anonymous mappings that Go manages itself.
# Go switches goroutine stacks by moving the stack pointer; when two stacks lie within
# valgrind's --max-stackframe, valgrind takes the switch for a frame push or pop and marks
# memory between them inaccessible. Accesses to that memory are then reported as invalid,
# whoever makes them: Go code on its own stacks and heap, a syscall reading into a Go buffer,
# and the library writing an out-parameter or status array that Go passed in. Every such
# error says its address "is in a rw- anonymous segment"; they are counted and ignored.
# (Bounds on Go memory are the job of the library's pointer checks in src/ffi/ptr.rs and of
# the Go tests under -race and cgocheck2, not of valgrind.)
#
# Everything else fails the run: any error on malloc'd memory (a use after free in the
# library, or a Go read of freed Rust memory through an Unsafe view, shows as "inside a block
# ... free'd") and every definite or indirect leak. (The same misread switches make valgrind's
# uninitialised-value tracking meaningless here, so sanitize.sh runs this step with
# --undef-value-errors=no and checks uninitialised values with native callers instead; any
# such error that does reach this log counts.)
#
# Input: the valgrind log (--log-file, with --error-limit=no so no error goes unrecorded).
# Output: the errors that count, then a summary line; exits 1 when there is one.
function flush(   kind, i) {
	if (n == 0) return
	kind = ""
	for (i = 1; i <= n; i++) if (lines[i] !~ /^(Thread [0-9]+|More than [0-9]+ errors|will still be recorded)/) { kind = lines[i]; break }
	if ((kind ~ /^Invalid (read|write) of size/ || kind ~ /^Syscall param .* points to unaddressable byte/) \
	    && block ~ /is in a rw- anonymous segment/) {
		unjudged++
	} else {
		real++
		for (i = 1; i <= n; i++) print lines[i]
		print ""
	}
	n = 0; block = ""
}
/^==[0-9]+== ?$/ { flush(); next }
/^==[0-9]+== / {
	line = $0; sub(/^==[0-9]+== /, "", line)
	lines[++n] = line; block = block "\n" line
	next
}
END {
	flush()
	printf "valgrind: %d error(s) that count (library memory, leaks, anything else); %d access(es) to Go-managed memory ignored\n", real, unjudged
	exit real > 0
}
