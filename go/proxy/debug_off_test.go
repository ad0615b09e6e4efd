//go:build !debug

package proxy

// debugBuild: see debug_on_test.go.
const debugBuild = false
