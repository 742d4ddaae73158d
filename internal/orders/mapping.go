package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/kith-scrm/kith/internal/kith"
)

// Field is what a column of an order file holds.
type Field string

// The fields an import reads. Everything else in a file is not read, let
// alone stored (P-8).
const (
	FOrderNo        Field = "order_no"
	FLineNo         Field = "line_no" // a sub-order id: rows with the same order_no are lines of one order
	FShop           Field = "shop"
	FBuyerAccount   Field = "buyer_account"
	FUnionID        Field = "unionid"
	FExternalUserID Field = "external_userid"
	FPhone          Field = "phone"
	FAddress        Field = "address"
	FProvince       Field = "province"
	FCity           Field = "city"
	FDistrict       Field = "district"
	FStreet         Field = "street"
	FStatus         Field = "status"
	FAfterSale      Field = "after_sale_status"
	FTotal          Field = "total"
	FFreight        Field = "freight"
	FRefund         Field = "refund"
	FOrderedAt      Field = "ordered_at"
	FPaidAt         Field = "paid_at"
	FShippedAt      Field = "shipped_at"
	FCompletedAt    Field = "completed_at"
	FSKU            Field = "sku"
	FTitle          Field = "title"
	FQuantity       Field = "quantity"
	FPrice          Field = "price"
)

// Fields lists every field, in the order the generic preset names them.
var Fields = []Field{FOrderNo, FLineNo, FShop, FBuyerAccount, FUnionID, FExternalUserID, FPhone, FAddress, FProvince, FCity,
	FDistrict, FStreet, FStatus, FAfterSale, FTotal, FFreight, FRefund, FOrderedAt, FPaidAt, FShippedAt, FCompletedAt, FSKU, FTitle, FQuantity, FPrice}

// required are the fields without which no order can be read.
var required = []Field{FOrderNo, FTotal, FOrderedAt}

// Mapping says which header names hold each field: for each field, the
// names it may have, the first present wins.
type Mapping struct {
	Name     string             `json:"name"`
	Platform string             `json:"platform"` // the shop key's prefix: taobao, jd, pdd, douyin, youzan, or the mapping's own
	Columns  map[Field][]string `json:"columns"`
	// Detect are header names that together identify the preset's files.
	Detect []string `json:"-"`
	// LinesSum: the total of an order with several lines is the sum of its
	// lines' totals (exports with one row per sub-order and its own amount).
	LinesSum bool `json:"lines_sum,omitempty"`
}

// Presets are the built-in mappings, in the order they are tried when a
// file's preset is recognised from its header row. Header names come from
// the stores' exports (docs: orders.md in the reference notes).
var Presets = []Mapping{
	{Name: "douyin", Platform: "douyin", Detect: []string{"主订单编号", "子订单编号"}, LinesSum: true, Columns: map[Field][]string{
		FOrderNo: {"主订单编号"}, FLineNo: {"子订单编号"}, FShop: {"店铺名称"}, FPhone: {"收件人手机号", "收件人电话"},
		FProvince: {"省"}, FCity: {"市"}, FDistrict: {"区"}, FStreet: {"详细地址", "街道"}, FStatus: {"订单状态"}, FAfterSale: {"售后状态"},
		FTotal: {"订单应付金额"}, FFreight: {"运费"}, FOrderedAt: {"订单提交时间"}, FPaidAt: {"支付完成时间"}, FShippedAt: {"发货时间"},
		FCompletedAt: {"订单完成时间"}, FSKU: {"商家编码"}, FTitle: {"选购商品"}, FQuantity: {"商品数量"}, FPrice: {"商品金额"}}},
	{Name: "pdd", Platform: "pdd", Detect: []string{"订单号", "用户实付金额(元)"}, Columns: map[Field][]string{
		FOrderNo: {"订单号"}, FShop: {"店铺名称"}, FPhone: {"手机"}, FProvince: {"省"}, FCity: {"市"}, FDistrict: {"区"}, FStreet: {"街道"},
		FStatus: {"订单状态"}, FAfterSale: {"售后状态"}, FTotal: {"用户实付金额(元)"}, FFreight: {"邮费(元)"}, FRefund: {"退款金额(元)"},
		FOrderedAt: {"拼单成功时间", "支付时间"}, FPaidAt: {"支付时间"}, FShippedAt: {"发货时间"}, FCompletedAt: {"确认收货时间"},
		FSKU: {"商家编码-SKU维度", "商家编码-商品维度"}, FTitle: {"商品"}, FQuantity: {"商品数量(件)"}}},
	{Name: "taobao", Platform: "taobao", Detect: []string{"订单编号", "买家应付货款|买家实付金额|买家实际支付金额"}, Columns: map[Field][]string{
		FOrderNo: {"订单编号"}, FShop: {"店铺名称"}, FBuyerAccount: {"买家会员名"}, FPhone: {"联系手机", "买家手机号"}, FAddress: {"收货地址"},
		FStatus: {"订单状态"}, FTotal: {"买家实际支付金额", "买家实付金额", "总金额"}, FFreight: {"买家应付邮费"}, FRefund: {"退款金额"},
		FOrderedAt: {"订单创建时间", "买家下单时间"}, FPaidAt: {"订单付款时间", "买家付款时间"}, FShippedAt: {"发货时间"},
		FCompletedAt: {"确认收货时间"}, FSKU: {"商家编码"}, FTitle: {"宝贝标题", "商品标题"}, FQuantity: {"宝贝总数量"}}},
	{Name: "jd", Platform: "jd", Detect: []string{"订单号", "下单帐号|京东价"}, Columns: map[Field][]string{
		FOrderNo: {"订单号"}, FShop: {"店铺名称"}, FBuyerAccount: {"下单帐号"}, FPhone: {"联系电话"}, FAddress: {"客户地址"},
		FStatus: {"订单状态"}, FTotal: {"应付金额", "订单金额"}, FFreight: {"运费金额"}, FOrderedAt: {"下单时间"}, FPaidAt: {"付款确认时间"},
		FCompletedAt: {"订单完成时间"}, FSKU: {"货号", "商品ID"}, FTitle: {"商品名称"}, FQuantity: {"订购数量"}, FPrice: {"京东价"}}},
	{Name: "youzan", Platform: "youzan", Detect: []string{"订单号", "订单实付金额"}, Columns: map[Field][]string{
		FOrderNo: {"订单号"}, FShop: {"归属店铺"}, FBuyerAccount: {"买家昵称"}, FPhone: {"收货人手机号/提货人手机号"},
		FProvince: {"收货人省份"}, FCity: {"收货人城市"}, FDistrict: {"收货人地区"}, FStreet: {"详细收货地址/提货地址"},
		FStatus: {"订单状态"}, FTotal: {"订单实付金额"}, FFreight: {"运费"}, FRefund: {"订单已退款金额"}, FOrderedAt: {"订单创建时间"},
		FPaidAt: {"买家付款时间"}, FCompletedAt: {"交易成功时间"}, FTitle: {"全部商品名称"}}},
	{Name: "kith", Platform: "shop", Detect: []string{"order_no", "total", "ordered_at"}, Columns: func() map[Field][]string {
		m := map[Field][]string{}
		for _, f := range Fields {
			m[f] = []string{string(f)}
		}
		return m
	}()},
}

// Preset returns the built-in mapping named name.
func Preset(name string) (Mapping, bool) {
	for _, p := range Presets {
		if p.Name == name {
			return p, true
		}
	}
	return Mapping{}, false
}

// normHeader makes header names comparable: NFKC (full-width brackets
// become ASCII), spaces and a byte-order mark dropped.
func normHeader(s string) string {
	s = norm.NFKC.String(strings.TrimPrefix(s, "\ufeff"))
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\u3000' {
			return -1
		}
		return r
	}, cleanCell(s))
}

// DetectPreset recognises a file's preset from its header row.
func DetectPreset(header []string) (Mapping, bool) {
	have := map[string]bool{}
	for _, h := range header {
		have[normHeader(h)] = true
	}
	for _, p := range Presets {
		ok := true
		for _, d := range p.Detect {
			any := false
			for _, alt := range strings.Split(d, "|") {
				any = any || have[normHeader(alt)]
			}
			ok = ok && any
		}
		if ok {
			return p, true
		}
	}
	return Mapping{}, false
}

// binding is a mapping applied to one header row: the column index of each
// field, -1 when absent.
type binding struct {
	col     map[Field]int
	header  []string
	ignored []string // columns read by no field: never stored
}

func (m Mapping) bind(header []string) (*binding, error) {
	idx := map[string]int{}
	for i, h := range header {
		if _, dup := idx[normHeader(h)]; !dup {
			idx[normHeader(h)] = i
		}
	}
	b := &binding{col: map[Field]int{}, header: header}
	used := map[int]bool{}
	for _, f := range Fields {
		b.col[f] = -1
		for _, name := range m.Columns[f] {
			if i, ok := idx[normHeader(name)]; ok {
				b.col[f] = i
				used[i] = true
				break
			}
		}
	}
	var missing []string
	for _, f := range required {
		if b.col[f] < 0 {
			missing = append(missing, fmt.Sprintf("%s (%s)", f, strings.Join(m.Columns[f], " or ")))
		}
	}
	if len(missing) > 0 {
		return nil, kith.Errorf(kith.EINVALID, "the header row has no column for %s; fix the mapping %q", strings.Join(missing, ", "), m.Name)
	}
	for i, h := range header {
		if !used[i] && strings.TrimSpace(h) != "" {
			b.ignored = append(b.ignored, h)
		}
	}
	return b, nil
}

// ParseColumns reads a custom mapping written as "field=Header|Other,…"
// (e.g. "order_no=单号,total=实付,ordered_at=下单时间").
func ParseColumns(name, platform, spec string) (Mapping, error) {
	m := Mapping{Name: name, Platform: platform, Columns: map[Field][]string{}}
	for part := range strings.SplitSeq(spec, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		f, names, ok := strings.Cut(part, "=")
		f = strings.TrimSpace(f)
		if !ok || !slices.Contains(Fields, Field(f)) {
			known := make([]string, len(Fields))
			for i, f := range Fields {
				known[i] = string(f)
			}
			return Mapping{}, kith.Errorf(kith.EINVALID, "%q is not field=Header; fields are %s", strings.TrimSpace(part), strings.Join(known, ", "))
		}
		for n := range strings.SplitSeq(names, "|") {
			if n = strings.TrimSpace(n); n != "" {
				m.Columns[Field(f)] = append(m.Columns[Field(f)], n)
			}
		}
	}
	return m, m.check()
}

func (m Mapping) check() error {
	if m.Name == "" || len(m.Name) > 64 || strings.ContainsAny(m.Name, " /\\") {
		return kith.Errorf(kith.EINVALID, "a mapping's name is 1 to 64 characters without spaces or slashes")
	}
	if m.Platform == "" || len(m.Platform) > 32 || strings.Contains(m.Platform, ":") {
		return kith.Errorf(kith.EINVALID, "a mapping's platform is 1 to 32 characters without a colon")
	}
	var missing []string
	for _, f := range required {
		if len(m.Columns[f]) == 0 {
			missing = append(missing, string(f))
		}
	}
	if len(missing) > 0 {
		return kith.Errorf(kith.EINVALID, "the mapping %q names no column for %s", m.Name, strings.Join(missing, ", "))
	}
	return nil
}

// SaveMapping remembers a custom mapping under its name; a preset's name
// cannot be taken.
func (s *Store) SaveMapping(ctx context.Context, m Mapping) error {
	if err := m.check(); err != nil {
		return err
	}
	if _, ok := Preset(m.Name); ok {
		return kith.Errorf(kith.ECONFLICT, "%q is a built-in preset; choose another name", m.Name)
	}
	b, _ := json.Marshal(m)
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO order_mappings (name, columns, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET columns = excluded.columns, updated_at = excluded.updated_at`, m.Name, string(b), s.clock.Now())
	if err != nil {
		return fmt.Errorf("orders: save mapping: %w", err)
	}
	return nil
}

// Mapping returns the preset or remembered mapping named name.
func (s *Store) Mapping(ctx context.Context, name string) (Mapping, error) {
	if p, ok := Preset(name); ok {
		return p, nil
	}
	var raw string
	err := s.db.R.QueryRowContext(ctx, `SELECT columns FROM order_mappings WHERE name = $1`, name).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		names := []string{}
		for _, p := range Presets {
			names = append(names, p.Name)
		}
		sort.Strings(names)
		return Mapping{}, kith.Errorf(kith.ENOTFOUND, "no mapping %q; presets are %s, or save one with --columns and --save-mapping", name, strings.Join(names, ", "))
	}
	if err != nil {
		return Mapping{}, fmt.Errorf("orders: read mapping: %w", err)
	}
	var m Mapping
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return Mapping{}, fmt.Errorf("orders: mapping %q: %w", name, err)
	}
	return m, nil
}
