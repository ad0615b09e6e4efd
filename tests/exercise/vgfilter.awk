# Sorts valgrind's report on the Go exerciser into offheap's errors and Go's stack artifacts.
#
# Go keeps goroutine stacks in anonymous mappings of its heap arena and switches between them
# by moving the stack pointer. When two stacks lie within valgrind's --max-stackframe, valgrind
# takes a switch for a frame push or pop and marks the other goroutine's live stack
# inaccessible, so ordinary Go code then "reads and writes invalid memory" on its own stack:
# an error whose top frame is a Go function and whose address "is in a rw- anonymous segment"
# (an invalid read or write, or a syscall reading into such a buffer).
# Those are counted and ignored. Everything else fails the run: any error in a Rust or C frame,
# any error on memory from malloc (the library is built with the system allocator, so every
# Rust allocation is such a block, and a Go read of freed Rust memory through an Unsafe view
# shows as "inside a block ... free'd"), and every leak.
#
# Input: the valgrind log (--log-file). Output: the real errors, then a summary line; exits 1
# when there is a real error.
function flush(   top, isgo, kind) {
	if (n == 0) return
	kind = lines[1]
	if (kind ~ /^Thread [0-9]+/ && n > 1) kind = lines[2] # "Thread 4:" or "Thread 7 name:" first
	top = ""
	for (i = 1; i <= n; i++) if (lines[i] ~ /^ +(at|by) 0x/) { top = lines[i]; break }
	sub(/^ +(at|by) 0x[0-9A-Fa-f]+: /, "", top)
	isgo = (top ~ /\./ && top !~ /::/)
	if ((kind ~ /^Invalid (read|write) of size/ || kind ~ /^Syscall param .* points to unaddressable byte/) \
	    && isgo && block ~ /is in a rw- anonymous segment/) {
		artifacts++
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
	printf "valgrind: %d error(s) in offheap or leaks, %d Go stack-switch artifact(s) ignored\n", real, artifacts
	exit real > 0
}
