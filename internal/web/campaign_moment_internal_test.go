package web

import (
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/kith"
)

func TestParseAttachments(t *testing.T) {
	got, err := parseAttachments("image m1\r\n\n  video v1 \nlink https://shop.example/a|cover 春季 新品")
	if err != nil || len(got) != 3 || got[0].MediaID != "m1" || got[1].Type != "video" || got[2].URL != "https://shop.example/a" ||
		got[2].MediaID != "cover" || got[2].Title != "春季 新品" {
		t.Fatalf("parse = %+v, %v", got, err)
	}
	for _, bad := range []string{"gif x", "image", "image a b", strings.Repeat("x", maxAttachmentsField+1)} {
		if _, err := parseAttachments(bad); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("%.20q: %v", bad, err)
		}
	}
}

// FuzzParseAttachments: any text is either refused with EINVALID or read
// into attachments of a known type, never more than one a line.
func FuzzParseAttachments(f *testing.F) {
	for _, s := range []string{"image m1", "link https://a b|c d", "video v\nimage i", "", "\n\n", "link", "image \t x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseAttachments(s)
		if err != nil {
			if kith.ErrorCode(err) != kith.EINVALID {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if len(got) > strings.Count(s, "\n")+1 {
			t.Fatalf("%q: %d attachments", s, len(got))
		}
		for _, a := range got {
			switch a.Type {
			case "image", "video", "file":
				if a.MediaID == "" {
					t.Fatalf("%q: %+v", s, a)
				}
			case "link":
			default:
				t.Fatalf("%q: type %q", s, a.Type)
			}
		}
	})
}
