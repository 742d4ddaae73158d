package i18n

import (
	"net/http/httptest"
	"slices"
	"testing"
)

func TestCataloguesHoldTheSameKeys(t *testing.T) {
	zh, en := Keys(ZhCN), Keys(En)
	slices.Sort(zh)
	slices.Sort(en)
	if len(zh) < 20 {
		t.Fatalf("zh-CN has only %d keys", len(zh))
	}
	for _, k := range zh {
		if !Has(En, k) {
			t.Errorf("en lacks %q", k)
		}
		if T(ZhCN, k) == "" || T(En, k) == "" {
			t.Errorf("%q is empty in a catalogue", k)
		}
	}
	for _, k := range en {
		if !Has(ZhCN, k) {
			t.Errorf("zh-CN lacks %q", k)
		}
	}
}

func TestFromRequest(t *testing.T) {
	cases := []struct {
		accept, cookie string
		want           Lang
	}{
		{"", "", ZhCN},
		{"en-US,en;q=0.9", "", En},
		{"zh-TW,zh;q=0.9", "", ZhCN},
		{"fr-FR", "", ZhCN},
		{"de, en;q=0.5", "", En},
		{"en", "zh-CN", ZhCN},
		{"", "en", En},
		{"en", "xx", En},
		{";;;garbage", "", ZhCN},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		if c.cookie != "" {
			r.Header.Set("Cookie", CookieName+"="+c.cookie)
		}
		if got := FromRequest(r); got != c.want {
			t.Errorf("Accept-Language %q, cookie %q: %s, want %s", c.accept, c.cookie, got, c.want)
		}
	}
}

func TestT(t *testing.T) {
	if T(En, "nav.logout") != "Sign out" || T(ZhCN, "nav.logout") != "退出登录" {
		t.Fatal("wrong translations")
	}
	if T(En, "no.such.key") != "no.such.key" {
		t.Fatal("a missing key must show as itself")
	}
}
