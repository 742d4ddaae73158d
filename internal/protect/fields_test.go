package protect

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
)

func TestEmail(t *testing.T) {
	p := mustNew(t)
	for in, want := range map[string]string{
		"zhang.wei@example.com": "zhang.wei@example.com", "  Zhang.Wei@Example.COM ": "zhang.wei@example.com",
		"a@b.cn": "a@b.cn", "陈@例子.中国": "陈@例子.中国",
	} {
		if got, err := NormalizeEmail(in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "plain", "a@b", "@example.com", "a@@example.com", "a@b@example.com", "a b@example.com",
		"a@.example.com", "a@example.com.", "a@example..com", "<a@example.com>", strings.Repeat("x", 65) + "@example.com",
		"a@" + strings.Repeat("x", 250) + ".com"} {
		if _, err := NormalizeEmail(bad); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("NormalizeEmail(%q) = %v, want EINVALID", bad, err)
		}
	}
	for in, want := range map[string]string{"zhang.wei@example.com": "z***@example.com", "a@b.cn": "a***@b.cn", "陈静@例子.中国": "陈***@例子.中国", "nope": "****", "@x.cn": "****"} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
	s, err := p.Seal(FieldEmail, " Zhang.Wei@Example.com")
	if err != nil || s.Masked != "z***@example.com" || strings.Contains(s.Value, "zhang") {
		t.Fatalf("Seal = %+v, %v", s, err)
	}
	if p.Index(FieldEmail, "zhang.wei@example.com") != s.Index || p.Index(FieldPhone, "zhang.wei@example.com") != "" {
		t.Fatal("e-mail index does not match its normal form, or crossed fields")
	}
	if got, err := p.Open(FieldEmail, s); err != nil || got != "zhang.wei@example.com" {
		t.Fatalf("Open = %q %v", got, err)
	}
}

func TestAddress(t *testing.T) {
	p := mustNew(t)
	for in, want := range map[string]string{
		"  浙江省杭州市西湖区　文三路 90号  ":      "浙江省杭州市西湖区 文三路 90号",
		"上海市\t浦东新区\n世纪大道100号":        "上海市 浦东新区 世纪大道100号",
		"1 Main St\x00, Springfield": "1 Main St, Springfield",
	} {
		if got, err := NormalizeAddress(in); err != nil || got != want {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "  \u3000 ", strings.Repeat("路", 301)} {
		if _, err := NormalizeAddress(bad); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("NormalizeAddress(%q) = %v, want EINVALID", bad, err)
		}
	}
	for in, want := range map[string]string{
		"浙江省杭州市西湖区文三路90号":          "浙江省杭州市****",
		"上海市浦东新区世纪大道100号":          "上海市****",
		"北京市朝阳区建国路1号":              "北京市****",
		"广西壮族自治区南宁市青秀区民族大道1号":      "广西壮族自治区南宁市****",
		"新疆维吾尔自治区伊犁哈萨克自治州伊宁市解放路2号": "新疆维吾尔自治区伊犁哈萨克自治州****",
		"香港特别行政区中环皇后大道中1号":         "香港特别行政区****",
		"广东省 深圳市 南山区":              "广东省 深圳市****",
		"黑龙江省大兴安岭地区加格达奇区":          "黑龙江省大兴安岭地区****",
		"浙江杭州西湖区文三路90号":            "****", // no suffixes: hidden whole
		"1 Main St, Springfield":   "****",
		"省":                        "****",
	} {
		if got := MaskAddress(in); got != want {
			t.Errorf("MaskAddress(%q) = %q, want %q", in, got, want)
		}
	}
	s, err := p.Seal(FieldAddress, "浙江省杭州市西湖区文三路90号")
	if err != nil || s.Masked != "浙江省杭州市****" || strings.Contains(s.Value, "文三路") {
		t.Fatalf("Seal = %+v %v", s, err)
	}
	if p.Index(FieldAddress, " 浙江省杭州市西湖区文三路90号 ") != s.Index || p.Index(FieldAddress, "浙江省杭州市西湖区文三路91号") == s.Index {
		t.Fatal("address index does not tell addresses apart")
	}
	if _, err := p.Open(FieldEmail, s); err == nil {
		t.Fatal("an address opened as an e-mail")
	}
}

func TestUnknownField(t *testing.T) {
	p := mustNew(t)
	if _, err := p.Seal("national_id", "x"); kith.ErrorCode(err) != kith.EINVALID {
		t.Fatalf("unknown field sealed: %v", err)
	}
	if Known("national_id") || !Known(FieldAddress) || Mask("national_id", "secret") != "****" {
		t.Fatal("Known or Mask is wrong for an unknown field")
	}
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{"a@b.cn", "Zhang@Example.com", "@", "a@b", "陈@例子.中国", " a@b.c ", "a@b..c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeEmail(s)
		if err != nil {
			return
		}
		if n2, err := NormalizeEmail(n); err != nil || n2 != n {
			t.Fatalf("NormalizeEmail is not idempotent on %q: %q %v", n, n2, err)
		}
		m := MaskEmail(n)
		local, domain, _ := strings.Cut(n, "@")
		first, _ := utf8.DecodeRuneInString(local)
		if m != string(first)+"***@"+domain {
			t.Fatalf("MaskEmail(%q) = %q; want the first character, *** and the domain", n, m)
		}
	})
}

func FuzzAddress(f *testing.F) {
	for _, s := range []string{"浙江省杭州市西湖区文三路90号", "上海市", "省市", "", "\u3000", "自治区自治州", "香港特别行政区"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeAddress(s)
		if err != nil {
			return
		}
		if n2, err := NormalizeAddress(n); err != nil || n2 != n {
			t.Fatalf("NormalizeAddress is not idempotent on %q: %q %v", n, n2, err)
		}
		m := MaskAddress(n)
		if !strings.HasSuffix(m, "****") {
			t.Fatalf("MaskAddress(%q) = %q hides nothing", n, m)
		}
		if kept := strings.TrimSuffix(m, "****"); !strings.HasPrefix(n, kept) || utf8.RuneCountInString(kept) > 30 {
			t.Fatalf("MaskAddress(%q) = %q keeps more than a prefix", n, m)
		}
	})
}
