package orders

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// ShopKey is the key of a shop: its platform (taobao, jd, pdd, douyin,
// youzan, or a mapping's or source's own) and its name, written
// "platform:name". Both are normalised — NFKC (full-width letters and
// brackets become half-width), spaces trimmed and runs of spaces made one,
// the platform in lowercase — so the same store reached by a file, the
// webhook or the ERP connector is one shop, and its orders one order each.
func ShopKey(platform, name string) string {
	return clean(strings.ToLower(platform)) + ":" + clean(name)
}

func clean(s string) string {
	s = norm.NFKC.String(s)
	return strings.Join(strings.Fields(s), " ")
}

// statusRank orders the statuses as an order moves through them: an update
// from another source never moves an order back (see Writer.Put).
func statusRank(s Status) int {
	switch s {
	case StatusPending:
		return 0
	case StatusPaid:
		return 1
	case StatusShipped:
		return 2
	case StatusCompleted:
		return 3
	}
	return 4 // cancelled, refunded: where an order ends
}
