package offheap

import (
	"bytes"
	"go/ast"
	"go/build"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/printer"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestExportedAPIIsTheSameWithAndWithoutCgo: a service that builds with cgo also builds
// without it (and the other way round). The exported declarations of the package's files as
// each build selects them, with every build tag the package knows, must be the same.
func TestExportedAPIIsTheSameWithAndWithoutCgo(t *testing.T) {
	for _, tags := range [][]string{nil, {"debug"}, {"offheap_shared"}, {"offheap_pkgconfig"}} {
		withCgo, _ := parsePackage(t, true, tags)
		withoutCgo, _ := parsePackage(t, false, tags)
		a, b := exportedAPI(withCgo), exportedAPI(withoutCgo)
		if len(a) < 150 || a["func NewAggregator"] == "" || a["func (*Snapshot) UnsafeIDs"] == "" {
			t.Fatalf("tags %v: the cgo build lists %d declarations, without the ones it must have", tags, len(a))
		}
		if diff := diffAPI(a, b); diff != "" {
			t.Errorf("tags %v: the exported API differs between CGO_ENABLED=1 and CGO_ENABLED=0:\n%s", tags, diff)
		}
	}
}

// TestDocLinksResolve: every [Name] in a doc comment is a link go doc resolves (an unresolved
// one is printed with its brackets, as text).
func TestDocLinksResolve(t *testing.T) {
	for _, cgo := range []bool{true, false} {
		files, fset := parsePackage(t, cgo, nil)
		pkg, err := doc.NewFromFiles(fset, files, "github.com/offheap/offheap/go")
		if err != nil {
			t.Fatal(err)
		}
		p := pkg.Parser()
		check := func(where, text string) {
			for _, bad := range unresolvedLinks(p.Parse(text)) {
				t.Errorf("cgo=%v: %s: doc link %s does not resolve", cgo, where, bad)
			}
		}
		check("package doc", pkg.Doc)
		checkDecls := func(prefix string, values []*doc.Value, funcs []*doc.Func) {
			for _, v := range values {
				check(strings.Join(v.Names, ", "), v.Doc)
			}
			for _, f := range funcs {
				check(prefix+f.Name, f.Doc)
			}
		}
		checkDecls("", slices.Concat(pkg.Consts, pkg.Vars), pkg.Funcs)
		for _, typ := range pkg.Types {
			check(typ.Name, typ.Doc)
			checkDecls("", slices.Concat(typ.Consts, typ.Vars), typ.Funcs)
			checkDecls(typ.Name+".", nil, typ.Methods)
		}
	}
}

// parsePackage parses the non-test files of the package that a build with or without cgo
// selects, comments included.
func parsePackage(t *testing.T, cgo bool, tags []string) ([]*ast.File, *token.FileSet) {
	t.Helper()
	ctx := build.Default
	ctx.CgoEnabled = cgo
	ctx.BuildTags = tags
	bp, err := ctx.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range slices.Concat(bp.GoFiles, bp.CgoFiles) {
		f, err := parser.ParseFile(fset, filepath.Join(bp.Dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files, fset
}

// exportedAPI maps each exported declaration (and each exported method, also of an
// unexported type whose methods an exported type promotes) to its signature or definition.
func exportedAPI(files []*ast.File) map[string]string {
	fset := token.NewFileSet() // positions do not matter to the printer's output here
	show := func(n any) string {
		var b bytes.Buffer
		printer.Fprint(&b, fset, n)
		return b.String()
	}
	// Unexported types embedded in exported structs: their exported methods are promoted.
	promoted := map[string]bool{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if s, ok := n.(*ast.TypeSpec); ok && s.Name.IsExported() {
				if st, ok := s.Type.(*ast.StructType); ok {
					for _, fl := range st.Fields.List {
						if len(fl.Names) == 0 {
							promoted[strings.TrimPrefix(show(fl.Type), "*")] = true
						}
					}
				}
			}
			return true
		})
	}
	api := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				key := "func " + d.Name.Name
				if d.Recv != nil {
					recv := show(d.Recv.List[0].Type)
					if base := strings.TrimPrefix(recv, "*"); !ast.IsExported(base) && !promoted[base] {
						continue
					}
					key = "func (" + recv + ") " + d.Name.Name
				}
				api[key] = show(d.Type)
			case *ast.GenDecl:
				for i, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							api["type "+s.Name.Name] = typeAPI(s, show)
						}
					case *ast.ValueSpec:
						for j, n := range s.Names {
							if !n.IsExported() {
								continue
							}
							v := ""
							if s.Type != nil {
								v = show(s.Type)
							}
							if j < len(s.Values) {
								v += " = " + show(s.Values[j])
							}
							api[d.Tok.String()+" "+n.Name] = v + " (spec " + strconv.Itoa(i) + " of its group)"
						}
					}
				}
			}
		}
	}
	return api
}

// typeAPI prints a type's definition with the fields a user sees: the exported ones, and the
// embedded ones (whose methods are promoted).
func typeAPI(s *ast.TypeSpec, show func(any) string) string {
	st, ok := s.Type.(*ast.StructType)
	if !ok {
		return show(s.Type)
	}
	var fields []string
	for _, f := range st.Fields.List {
		if len(f.Names) == 0 {
			fields = append(fields, "embedded "+show(f.Type))
			continue
		}
		for _, n := range f.Names {
			if n.IsExported() {
				fields = append(fields, n.Name+" "+show(f.Type))
			}
		}
	}
	return "struct{" + strings.Join(fields, "; ") + "}"
}

func diffAPI(a, b map[string]string) string {
	var out []string
	for k, v := range a {
		switch w, ok := b[k]; {
		case !ok:
			out = append(out, "only with cgo: "+k+" "+v)
		case v != w:
			out = append(out, "differs: "+k+":\n\twith cgo:    "+v+"\n\twithout cgo: "+w)
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "only without cgo: "+k+" "+v)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// linkLike matches a bracketed name meant as a link: not an index expression such as
// jobs[i], whose [ follows a name.
var linkLike = regexp.MustCompile(`(?:^|[^\w\])])(\[\*?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\])`)

// unresolvedLinks returns the bracketed names left as plain text in a parsed doc comment: a
// name go doc does not know, or a link not followed by a space or punctuation.
func unresolvedLinks(d *comment.Doc) []string {
	var bad []string
	find := func(s string) {
		for _, m := range linkLike.FindAllStringSubmatch(s, -1) {
			bad = append(bad, m[1])
		}
	}
	var walk func([]comment.Text)
	walk = func(texts []comment.Text) {
		for _, x := range texts {
			switch x := x.(type) {
			case comment.Plain:
				find(string(x))
			case comment.Italic:
				find(string(x))
			case *comment.Link:
				walk(x.Text)
			}
		}
	}
	for _, b := range d.Content {
		switch b := b.(type) {
		case *comment.Paragraph:
			walk(b.Text)
		case *comment.Heading:
			walk(b.Text)
		case *comment.List:
			for _, item := range b.Items {
				for _, c := range item.Content {
					if p, ok := c.(*comment.Paragraph); ok {
						walk(p.Text)
					}
				}
			}
		}
	}
	return bad
}
