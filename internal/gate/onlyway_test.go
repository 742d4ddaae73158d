package gate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sendLike names the exported functions and methods that put a message on
// the wire.
var sendLike = regexp.MustCompile(`^(Send|Deliver|Dispatch|Publish|Post|Push)`)

// unpermitted returns "file:line Name" for every exported Send-like function
// or method in src that takes no gate.Permit (or []gate.Permit).
func unpermitted(fset *token.FileSet, f *ast.File) []string {
	gateName := ""
	for _, imp := range f.Imports {
		if strings.Trim(imp.Path.Value, `"`) == "github.com/kith-scrm/kith/internal/gate" {
			gateName = "gate"
			if imp.Name != nil {
				gateName = imp.Name.Name
			}
		}
	}
	var out []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || !fn.Name.IsExported() || !sendLike.MatchString(fn.Name.Name) {
			continue
		}
		if !takesPermit(fn.Type.Params, gateName) {
			out = append(out, fset.Position(fn.Pos()).String()+" "+fn.Name.Name)
		}
	}
	return out
}

func takesPermit(params *ast.FieldList, gateName string) bool {
	if gateName == "" || params == nil {
		return false
	}
	for _, p := range params.List {
		t := p.Type
		if a, ok := t.(*ast.ArrayType); ok {
			t = a.Elt
		}
		if e, ok := t.(*ast.Ellipsis); ok {
			t = e.Elt
		}
		if sel, ok := t.(*ast.SelectorExpr); ok && sel.Sel.Name == "Permit" {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == gateName {
				return true
			}
		}
	}
	return false
}

// TestOnlyWayToSend fails when an exported Send-like function of a channel
// adapter or of the campaign engine takes no gate.Permit: the gate is the
// only way to send.
func TestOnlyWayToSend(t *testing.T) {
	fset := token.NewFileSet()
	var checked int
	for _, root := range []string{"../channel", "../campaign"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return filepath.SkipDir
				}
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			checked++
			for _, bad := range unpermitted(fset, f) {
				t.Errorf("%s: an exported send must take a gate.Permit and call gate.Consume", bad)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked == 0 {
		t.Fatal("no Go file found under internal/channel: the check checked nothing")
	}
}

// TestOnlyWayToSendCatches shows the check catches what it must.
func TestOnlyWayToSendCatches(t *testing.T) {
	src := `package sms
import (
	"context"
	g "github.com/kith-scrm/kith/internal/gate"
)
type Client struct{}
func (c *Client) Send(ctx context.Context, p g.Permit, text string) error { return nil }
func (c *Client) SendBatch(ctx context.Context, ps []g.Permit, text string) error { return nil }
func (c *Client) SendRaw(ctx context.Context, phone, text string) error { return nil }
func Deliver(phone string) error { return nil }
func send(phone string) error { return nil }
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "sms.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := unpermitted(fset, f)
	if len(got) != 2 || !strings.HasSuffix(got[0], "SendRaw") || !strings.HasSuffix(got[1], "Deliver") {
		t.Errorf("unpermitted = %q, want SendRaw and Deliver", got)
	}
}
