package protect_test

import (
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
)

func TestShopAccounts(t *testing.T) {
	if got, err := protect.Normalize(protect.FieldShopAccount, "  taobao:旗舰店\x00tb_Alice "); err != nil || got != "taobao:旗舰店\x00tb_Alice" {
		t.Fatalf("normalize %q %v", got, err)
	}
	for _, bad := range []string{" ", strings.Repeat("x", 1025)} {
		if _, err := protect.Normalize(protect.FieldShopAccount, bad); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("%q: %v", bad[:1], err)
		}
	}
	if got := protect.Mask(protect.FieldShopAccount, "taobao:旗舰店\x00tb_alice"); got != "taobao:旗舰店 t***" {
		t.Errorf("mask %q", got)
	}
	if got := protect.Mask(protect.FieldShopAccount, "王小明"); got != "王***" {
		t.Errorf("mask %q", got)
	}
}
