// Package orderstest writes realistic order files for tests, benchmarks
// and demonstrations.
package orderstest

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// TaobaoHeader is the header row WriteTaobaoCSV writes: a classic Taobao
// order export, with columns Kith reads and columns it does not.
const TaobaoHeader = "订单编号,买家会员名,买家支付宝账号,买家应付货款,买家应付邮费,买家实际支付金额,订单状态,买家留言,收货人姓名,收货地址,联系手机,订单创建时间,订单付款时间,发货时间,确认收货时间,宝贝标题,宝贝总数量,商家编码,店铺名称\n"

var (
	provinces = []string{"浙江省 杭州市 西湖区", "上海 上海市 浦东新区", "广东省 深圳市 南山区", "北京 北京市 朝阳区", "江苏省 南京市 建邺区", "四川省 成都市 武侯区"}
	titles    = []string{"明前龙井 250g", "安吉白茶 礼盒", "正山小种 红茶", "云南普洱 熟茶饼", "铁观音 清香型", "茉莉花茶 袋泡"}
	statuses  = []string{"交易成功", "交易成功", "交易成功", "卖家已发货，等待买家确认", "买家已付款，等待卖家发货", "等待买家付款", "交易关闭"}
)

// WriteTaobaoCSV writes a Taobao order export of n orders placed in the
// year before end, in UTF-8: buyers repeat (about n/3 distinct accounts),
// half of the numbers are masked as newer exports do. The same seed writes
// the same file.
func WriteTaobaoCSV(w io.Writer, n int, seed uint64, end time.Time) error {
	r := rand.New(rand.NewPCG(seed, 1))
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(TaobaoHeader)
	buyers := max(n/3, 1)
	for i := range n {
		buyer := r.IntN(buyers)
		at := end.Add(-time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Second)
		qty := 1 + r.IntN(3)
		price := 1900 + r.Int64N(60000)
		freight := int64(0)
		if r.IntN(5) == 0 {
			freight = 1000
		}
		total := price*int64(qty) + freight
		status := statuses[r.IntN(len(statuses))]
		paid, shipped, done := "", "", ""
		if status != "等待买家付款" {
			paid = at.Add(time.Minute).Format("2006-01-02 15:04:05")
		}
		if status == "交易成功" || status == "卖家已发货，等待买家确认" {
			shipped = at.Add(20 * time.Hour).Format("2006-01-02 15:04:05")
		}
		if status == "交易成功" {
			done = at.Add(96 * time.Hour).Format("2006-01-02 15:04:05")
		}
		phone := fmt.Sprintf("1%d%09d", 3+buyer%7, buyer)
		if buyer%2 == 1 {
			phone = phone[:3] + "****" + phone[7:]
		}
		title := titles[r.IntN(len(titles))]
		_, err := fmt.Fprintf(bw, "=\"%d\",tb_%07d,buyer%d@example.com,%s,%s,%s,%s,,客户%d,%s 某街道 %d 号,=\"%s\",%s,%s,%s,%s,%s,%d,SKU-%03d,旗舰店\n",
			3_000_000_000+int64(i), buyer, buyer, yuan(price*int64(qty)), yuan(freight), yuan(total), status, buyer,
			provinces[buyer%len(provinces)], buyer%300, phone, at.Format("2006-01-02 15:04:05"), paid, shipped, done, title, qty, r.IntN(200))
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

func yuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }
