//go:build debug

package proxy

// debugBuild: the debug tag makes every offheap handle access run a full GC, so the suite's
// longest loops run shorter (the lifetimes they check do not need the volume).
const debugBuild = true
