package orders_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
)

func TestReadCategories(t *testing.T) {
	got, err := orders.ReadCategories(bytes.NewReader(gbk(t, "商家编码,宝贝标题,类目\n=\"SKU-1\",龙井,绿茶\nSKU-2 ,白茶饼, 白茶\n\nSKU-1,龙井 250g,绿茶\nSKU-3,,—\n")), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"SKU-1": "绿茶", "SKU-2": "白茶", "SKU-3": ""}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got, err := orders.ReadCategories(strings.NewReader("SKU\tCategory\nA\tB\n"), 1<<20); err != nil || got["A"] != "B" {
		t.Fatalf("tabs, English header: %v %v", got, err)
	}
	for input, want := range map[string]string{
		"":                                    "empty",
		"sku,title\nA,B\n":                    "category column",
		"sku,category\n,绿茶\n":                 "row 2: sku is empty",
		"sku,category\nA,绿茶\nA,红茶\n":          `row 3: SKU A is in category "绿茶" on row 2 and "红茶" here`,
		"sku,category\nA,=HYPERLINK(\"x\")\n": "row 2: holds a spreadsheet formula",
		"sku,category\nA," + strings.Repeat("茶", 200) + "\n": "longer than 512 bytes",
		"sku,category\n" + strings.Repeat("A,B\n", 300):      "larger than 1 KB",
	} {
		_, err := orders.ReadCategories(strings.NewReader(input), 1024)
		if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), want) {
			t.Errorf("%.30q: %v, want %q", input, err, want)
		}
	}
}

// FuzzReadCategories: any file is a catalogue SetCategories accepts or an
// EINVALID error.
func FuzzReadCategories(f *testing.F) {
	f.Add([]byte("商家编码,类目\nSKU-1,绿茶\n"))
	f.Add(gbk(f, "sku,category\n=\"A\",茶\n"))
	f.Add([]byte("\ufeffsku\tcategory\n\"A\n\",\"B\"\"\"\n"))
	f.Add([]byte{0xFF, 0xFE, 's', 0, ',', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := orders.ReadCategories(bytes.NewReader(data), 1<<16)
		if err != nil {
			if kith.ErrorCode(err) != kith.EINVALID {
				t.Fatalf("not a message for people: %v", err)
			}
			return
		}
		for sku, cat := range got {
			if sku == "" || sku != strings.TrimSpace(sku) || cat != strings.TrimSpace(cat) || !utf8.ValidString(sku+cat) || len(sku) > 512 || len(cat) > 512 {
				t.Fatalf("SetCategories would refuse %q → %q", sku, cat)
			}
		}
	})
}
