package main

import (
	"reflect"
	"testing"
)

func TestKeptSections(t *testing.T) {
	old := "# x\n| a |\n<!-- bench-proxy:start -->\n## Proxy\n| r |\n<!-- bench-proxy:end -->\ntail\n<!-- other:start -->o<!-- other:end -->"
	got := keptSections(old)
	want := []string{"<!-- bench-proxy:start -->\n## Proxy\n| r |\n<!-- bench-proxy:end -->", "<!-- other:start -->o<!-- other:end -->"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("keptSections = %q, want %q", got, want)
	}
	if got := keptSections("no markers"); len(got) != 0 {
		t.Fatalf("keptSections without markers = %q", got)
	}
}

func TestTargets(t *testing.T) {
	if !AtMost(1.1)(1/1.05) || AtMost(1.1)(1/1.2) {
		t.Fatal("AtMost")
	}
	if !AtLeast(15)(16) || AtLeast(15)(14) {
		t.Fatal("AtLeast")
	}
}
