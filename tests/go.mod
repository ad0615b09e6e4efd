module github.com/offheap/offheap/tests

go 1.24

require github.com/offheap/offheap/go v0.0.0

replace github.com/offheap/offheap/go => ../go
