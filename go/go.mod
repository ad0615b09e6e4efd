module github.com/offheap/offheap/go

go 1.24
