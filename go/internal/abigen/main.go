// Command abigen writes what the Go package knows of the C header include/offheap.h, so that
// the header is its one source:
//
//   - abi_gen.go (every build, cgo or not): each integer constant of the header, #define or
//     enum value, as an untyped Go constant: OFFHEAP_STATUS_HEADERS_BARE_CR is
//     statusHeadersBareCR.
//   - abi_cgo_gen.go (cgo builds): the #cgo nocallback directive of every library function the
//     package calls, and #cgo noescape for those that take a pointer (the library never keeps
//     one after a call, nor calls back into Go); then compile-time checks that the constants
//     have the values of the header the package compiles against (an installed one may be
//     another version) and that every Go mirror of a header struct has its size and the offset
//     of each of its fields.
//
// Run from go/ (`go generate`, or `make header`, which also copies a regenerated header):
//
//	go run ./internal/abigen          # rewrite both files
//	go run ./internal/abigen -check   # exit 1 if either differs from what it would write
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// mirrors names the Go type that mirrors each header struct the package passes by pointer.
// Their fields pair by name (snake_case in C, camelCase in Go, initialisms as Go writes them),
// except the ones in renamed; a C field may also pair with the same name inside a nested Go
// struct (relayProgress.stats.BytesIn is bytes_in).
var mirrors = []struct{ c, goType string }{
	{"offheap_counters", "RustStats"},
	{"offheap_buffer_io", "bufferIO"},
	{"offheap_engine_job", "engineJob"},
	{"offheap_session_options", "sessionOptions"},
	{"offheap_engine_completion", "engineCompletion"},
	{"offheap_proxy_options", "proxyOptions"},
	{"offheap_proxy_upstream", "proxyUpstream"},
	{"offheap_proxy_counters", "ProxyCounters"},
	{"offheap_proxy_event", "proxyEvent"},
	{"offheap_headers_config", "headersConfig"},
	{"offheap_head", "headRecord"},
	{"offheap_span", "span"},
	{"offheap_header", "headerRecord"},
	{"offheap_rewrite_options", "rewriteOptions"},
	{"offheap_relay_progress", "relayProgress"},
	{"offheap_relay_fed", "relayFed"},
	{"offheap_relay_counters", "RelayCounters"},
	{"offheap_snapshot_columns", "windowView"},
	{"offheap_aggregator_config", "windowConfig"},
	{"offheap_ingest_accounting", "IngestAccounting"},
	{"offheap_aggregator_counters", "AggregatorStats"},
	{"offheap_import_accounting", "ImportAccounting"},
}

// renamed pairs the mirror fields whose Go name is not the C name: `len` would read as the
// builtin, and RustStats's exported names came first.
var renamed = map[string]string{
	"offheap_buffer_io.len":             "length",
	"offheap_head.len":                  "length",
	"offheap_span.len":                  "length",
	"offheap_counters.heap_live_bytes":  "LiveBytes",
	"offheap_counters.heap_peak_bytes":  "PeakBytes",
	"offheap_counters.heap_allocations": "Allocations",
	"offheap_counters.heap_frees":       "Frees",
	"offheap_counters.handles_live":     "LiveHandles",
}

// initialisms are the words Go writes in capitals (Go's style, and the package's names).
var initialisms = map[string]bool{"OK": true, "CR": true, "LF": true, "CRLF": true, "EOF": true,
	"IO": true, "TE": true, "HTTP10": true, "ID": true}

func main() {
	check := flag.Bool("check", false, "report whether the files are current instead of writing them")
	header := flag.String("header", "../include/offheap.h", "the C header")
	flag.Parse()
	if err := run(*header, *check); err != nil {
		fmt.Fprintln(os.Stderr, "abigen:", err)
		os.Exit(1)
	}
}

func run(headerPath string, check bool) error {
	src, err := os.ReadFile(headerPath)
	if err != nil {
		return err
	}
	h := parseHeader(string(src))
	pkg, err := parsePackage(".")
	if err != nil {
		return err
	}
	var stale []string
	for _, out := range []struct {
		name string
		gen  func(*header, *goPackage) ([]byte, error)
	}{{"abi_gen.go", constantsFile}, {"abi_cgo_gen.go", cgoFile}} {
		want, err := out.gen(h, pkg)
		if err != nil {
			return fmt.Errorf("%s: %w", out.name, err)
		}
		if check {
			if have, err := os.ReadFile(out.name); err != nil || !bytes.Equal(have, want) {
				stale = append(stale, out.name)
			}
		} else if err := os.WriteFile(out.name, want, 0o644); err != nil {
			return err
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("out of date with include/offheap.h and the package: go/%s; "+
			"run `go generate` in go/ (or `make header`) and commit the result", strings.Join(stale, ", go/"))
	}
	return nil
}

// header is what abigen reads of the C header.
type header struct {
	consts  []constant
	structs map[string][]string // struct name -> field names, in order
	funcs   map[string]bool     // function name -> takes a pointer
}

type constant struct {
	c, value string
	doc      []string
}

var (
	defineRe = regexp.MustCompile(`^#define (OFFHEAP_[A-Z0-9_]+) ([0-9][0-9x]*|\([0-9 <]+\))$`)
	enumRe   = regexp.MustCompile(`^\s+(OFFHEAP_[A-Z0-9_]+)(?: = ([0-9]+))?,$`)
	structRe = regexp.MustCompile(`^typedef struct (offheap_\w+) \{$`)
	fieldRe  = regexp.MustCompile(`^\s+[\w ]+?\**(\w+)(\[\w+\])?;$`)
	funcRe   = regexp.MustCompile(`^[\w ]+?\**(offheap_\w+)\(`)
)

func parseHeader(src string) *header {
	h := &header{structs: map[string][]string{}, funcs: map[string]bool{}}
	var doc []string
	var inStruct, inFunc string
	next := 0 // the value of an enum variant written without one, as C counts it
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case inFunc != "":
			h.funcs[inFunc] = h.funcs[inFunc] || strings.Contains(line, "*")
			if strings.HasSuffix(trimmed, ";") {
				inFunc = ""
			}
		case inStruct != "":
			if strings.HasPrefix(trimmed, "}") {
				inStruct = ""
			} else if m := fieldRe.FindStringSubmatch(line); m != nil {
				h.structs[inStruct] = append(h.structs[inStruct], m[1])
			}
		case strings.HasPrefix(trimmed, "//"):
			doc = append(doc, trimmed)
			continue
		default:
			if m := defineRe.FindStringSubmatch(line); m != nil {
				h.consts = append(h.consts, constant{c: m[1], value: m[2], doc: doc})
			} else if strings.HasPrefix(line, "enum ") {
				next = 0
			} else if m := enumRe.FindStringSubmatch(line); m != nil {
				if m[2] != "" {
					fmt.Sscan(m[2], &next)
				}
				h.consts = append(h.consts, constant{c: m[1], value: fmt.Sprint(next), doc: doc})
				next++
			} else if m := structRe.FindStringSubmatch(line); m != nil {
				inStruct = m[1]
			} else if m := funcRe.FindStringSubmatch(line); m != nil {
				h.funcs[m[1]] = strings.Contains(line[strings.Index(line, "("):], "*")
				if !strings.HasSuffix(trimmed, ";") {
					inFunc = m[1]
				}
			}
		}
		doc = nil
	}
	return h
}

// goName is the Go name of a header constant: OFFHEAP_RELAY_FEED_EOF is relayFeedEOF.
func goName(c string) string {
	var b strings.Builder
	for i, w := range strings.Split(strings.TrimPrefix(c, "OFFHEAP_"), "_") {
		switch {
		case i == 0:
			b.WriteString(strings.ToLower(w))
		case initialisms[w]:
			b.WriteString(w)
		default:
			b.WriteString(w[:1] + strings.ToLower(w[1:]))
		}
	}
	return b.String()
}

// goPackage is what abigen reads of the package: its struct types and the C functions it calls.
type goPackage struct {
	structs map[string]*ast.StructType
	calls   map[string]bool
}

var callRe = regexp.MustCompile(`\bC\.(offheap_\w+)\(`)

func parsePackage(dir string) (*goPackage, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	p := &goPackage{structs: map[string]*ast.StructType{}, calls: map[string]bool{}}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") || strings.HasSuffix(name, "_gen.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		for _, m := range callRe.FindAllStringSubmatch(string(src), -1) {
			p.calls[m[1]] = true
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			return nil, err
		}
		p.collect(f)
	}
	return p, nil
}

// collect records the struct types f declares.
func (p *goPackage) collect(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if st, ok := ts.Type.(*ast.StructType); ok {
				p.structs[ts.Name.Name] = st
			}
		}
		return true
	})
}

const banner = "// Code generated by go run ./internal/abigen from include/offheap.h; DO NOT EDIT.\n\n"

func constantsFile(h *header, _ *goPackage) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(banner)
	b.WriteString("package offheap\n\n")
	b.WriteString("// The integer constants of include/offheap.h, OFFHEAP_X_Y as xY, with the header's comments.\n")
	b.WriteString("const (\n")
	for i, c := range h.consts {
		if i > 0 && len(c.doc) > 0 {
			b.WriteString("\n")
		}
		for _, d := range c.doc {
			b.WriteString("\t" + d + "\n")
		}
		fmt.Fprintf(&b, "\t%s = %s // %s\n", goName(c.c), c.value, c.c)
	}
	b.WriteString(")\n")
	return format.Source(b.Bytes())
}

func cgoFile(h *header, p *goPackage) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(banner)
	b.WriteString("//go:build cgo\n\npackage offheap\n\n/*\n")
	var calls []string
	for name := range p.calls {
		if _, ok := h.funcs[name]; ok {
			calls = append(calls, name)
		}
	}
	sort.Strings(calls)
	for _, name := range calls {
		if h.funcs[name] {
			fmt.Fprintf(&b, "#cgo noescape %s\n", name)
		}
		fmt.Fprintf(&b, "#cgo nocallback %s\n", name)
	}
	b.WriteString("#include \"offheap.h\"\n*/\nimport \"C\"\n\nimport \"unsafe\"\n\n")

	b.WriteString("// The constants of abi_gen.go have the values of the header this build compiles against.\n")
	b.WriteString("var (\n")
	for _, c := range h.consts {
		fmt.Fprintf(&b, "\t_ equal = [C.%s - %s]struct{}{}\n", c.c, goName(c.c))
	}
	b.WriteString(")\n\n")

	b.WriteString("// The Go mirrors of the header's structs have their sizes and the offset of every field.\n")
	b.WriteString("var (\n")
	for i, m := range mirrors {
		if i > 0 {
			b.WriteString("\n")
		}
		if err := p.pins(&b, h, m.c, m.goType); err != nil {
			return nil, err
		}
	}
	b.WriteString(")\n")
	return format.Source(b.Bytes())
}

// pins writes the checks that Go type t mirrors header struct c: the size, and the offset of
// each C field, which must pair with a Go field as every Go field must with a C one.
func (p *goPackage) pins(b *bytes.Buffer, h *header, c, t string) error {
	fields, ok := h.structs[c]
	if !ok {
		return fmt.Errorf("the header has no struct %s", c)
	}
	if _, ok := p.structs[t]; !ok {
		return fmt.Errorf("the package has no struct type %s (the mirror of %s)", t, c)
	}
	fmt.Fprintf(b, "\t_ equal = [C.sizeof_%s - unsafe.Sizeof(%s{})]struct{}{}\n", c, t)
	paired := map[string]bool{}
	for _, f := range fields {
		path, err := p.field(t, c, f)
		if err != nil {
			return err
		}
		paired[path[0]] = true
		fmt.Fprintf(b, "\t_ equal = [unsafe.Offsetof(C.%s{}.%s) - %s]struct{}{}\n", c, f, p.offset(t, path))
	}
	for _, fl := range p.structs[t].Fields.List {
		for _, n := range fl.Names {
			if !paired[n.Name] {
				return fmt.Errorf("%s.%s pairs with no field of %s", t, n.Name, c)
			}
		}
	}
	return nil
}

// field finds the Go field that mirrors C field f of struct c in Go type t: its path, with
// the field of a nested struct after the field that holds it.
func (p *goPackage) field(t, c, f string) ([]string, error) {
	want := strings.ReplaceAll(f, "_", "")
	if r, ok := renamed[c+"."+f]; ok {
		want = strings.ToLower(r)
	}
	for _, fl := range p.structs[t].Fields.List {
		for _, n := range fl.Names {
			if strings.ToLower(n.Name) == want {
				return []string{n.Name}, nil
			}
		}
	}
	for _, fl := range p.structs[t].Fields.List {
		id, ok := fl.Type.(*ast.Ident)
		if !ok || p.structs[id.Name] == nil || len(fl.Names) != 1 {
			continue
		}
		if sub, err := p.field(id.Name, c, f); err == nil {
			return append([]string{fl.Names[0].Name, id.Name}, sub...), nil
		}
	}
	return nil, fmt.Errorf("no field of %s pairs with %s.%s", t, c, f)
}

// offset is the Go expression of a field path's offset in t.
func (p *goPackage) offset(t string, path []string) string {
	expr := fmt.Sprintf("unsafe.Offsetof(%s{}.%s)", t, path[0])
	if len(path) > 1 {
		expr += " - " + p.offset(path[1], path[2:])
	}
	return expr
}
