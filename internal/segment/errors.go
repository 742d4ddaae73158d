package segment

import (
	"fmt"
	"strings"

	"golang.org/x/text/width"

	"github.com/kith-scrm/kith/internal/kith"
)

// Limits on an expression's text and shape. They keep a typing mistake (or
// a hostile request) from costing the parser, the index or the database
// more than a real segment ever needs.
const (
	// MaxLen is the longest expression accepted, in bytes (4 KiB).
	MaxLen = 4096
	// MaxDepth is how deeply parentheses and not may nest.
	MaxDepth = 32
)

// Error is a mistake in an expression, at a place in its text. It wraps a
// kith.EINVALID error carrying the same message, so the web layer answers
// 400 with it.
type Error struct {
	Pos Pos    // where the mistake is
	Msg string // what is wrong and, where it helps, what was expected
}

// Error implements the error interface.
func (e *Error) Error() string { return "segment: " + e.message() }

func (e *Error) message() string { return fmt.Sprintf("column %d: %s", e.Pos.Col, e.Msg) }

// Unwrap returns the kith.EINVALID error behind e.
func (e *Error) Unwrap() error { return &kith.Error{Code: kith.EINVALID, Message: e.message()} }

// Pointer shows the line of src the error is on with a caret under its
// column, for the command line:
//
//	tag:VIP and ordrs >= 3
//	            ^
func (e *Error) Pointer(src string) string {
	off := min(max(e.Pos.Offset, 0), len(src))
	start := strings.LastIndexByte(src[:off], '\n') + 1
	end := strings.IndexByte(src[off:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += off
	}
	line := src[start:end]
	pad := 0
	for _, r := range src[start:off] {
		// Chinese characters take two columns on a terminal.
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			pad += 2
		default:
			pad++
		}
	}
	return line + "\n" + strings.Repeat(" ", pad) + "^"
}

func errorf(at Pos, format string, args ...any) *Error {
	return &Error{Pos: at, Msg: fmt.Sprintf(format, args...)}
}
