//go:build cgo

package offheap

// #include <stdint.h>
import "C"

import "unsafe"

// Pointers to the first element of pointer-free Go slices, for the library's (pointer, length)
// arguments. A nil or empty slice gives (NULL or a valid pointer, 0), which the library treats
// as an empty slice. The library never keeps these pointers after the call returns.

func bytesPtr(b []byte) *C.uint8_t { return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))) }

func u32Ptr(b []uint32) *C.uint32_t { return (*C.uint32_t)(unsafe.Pointer(unsafe.SliceData(b))) }

func u64Ptr(b []uint64) *C.uint64_t { return (*C.uint64_t)(unsafe.Pointer(unsafe.SliceData(b))) }

func i64Ptr(b []int64) *C.int64_t { return (*C.int64_t)(unsafe.Pointer(unsafe.SliceData(b))) }

func f64Ptr(b []float64) *C.double { return (*C.double)(unsafe.Pointer(unsafe.SliceData(b))) }
