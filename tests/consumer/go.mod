module example.com/consumer

go 1.24

require github.com/offheap/offheap/go v0.0.0
