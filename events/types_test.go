package events

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestDataCoversEveryType reads the Type constants from the source, so a
// new type cannot be added without its data type (and so its schema).
func TestDataCoversEveryType(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "types.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			for i, name := range spec.(*ast.ValueSpec).Names {
				if !strings.HasPrefix(name.Name, "Type") {
					continue
				}
				lit := spec.(*ast.ValueSpec).Values[i].(*ast.BasicLit)
				typ, _ := strconv.Unquote(lit.Value)
				n++
				if _, ok := Data[typ]; !ok {
					t.Errorf("%s (%q) has no entry in Data", name.Name, typ)
				}
			}
		}
	}
	for typ := range HostOnly {
		if _, ok := Data[typ]; !ok {
			t.Errorf("host-only %q is not a type", typ)
		}
	}
	if n < 20 || len(Data) != n {
		t.Errorf("%d Type constants in types.go, %d entries in Data", n, len(Data))
	}
}
