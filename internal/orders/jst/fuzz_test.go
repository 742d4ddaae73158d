package jst_test

import (
	"maps"
	"testing"

	"github.com/kith-scrm/kith/internal/orders/jst"
)

// FuzzParseShops: the shop mapping typed in the console never panics, and
// what it accepts is written back and read again unchanged.
func FuzzParseShops(f *testing.F) {
	for _, s := range []string{"10 = taobao:天猫旗舰店\n11=jd:京东", "# c\n\n1=a:b", "x", "1=a", "1=:b", "1 = ａ:（店）", "9999999999999999999=a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m, err := jst.ParseShops(text)
		if err != nil {
			return
		}
		back, err := jst.ParseShops(jst.FormatShops(m))
		if err != nil || !maps.Equal(m, back) {
			t.Fatalf("%q: %v then %v (%v)", text, m, back, err)
		}
		long := false
		for _, v := range m {
			long = long || len(v) > 256
		}
		if st := (jst.Settings{Shops: m}); len(m) <= 500 && !long && st.Check() != nil {
			t.Fatalf("%q: an accepted mapping fails the settings check: %v", text, st.Check())
		}
	})
}
