package segment

import "fmt"

// The facts the orders work keeps beside order_count and spent_* (migration
// 00017, internal/orders): what a term on them means, for Explain.

// factMeaning says in a sentence which customers a term on one of those
// facts matches; "" for the other fields.
func factMeaning(t *Term) string {
	switch t.Field {
	case FieldSKU:
		return fmt.Sprintf("bought the SKU %q (paid, not refunded in full)", t.Name)
	case FieldCategory:
		return fmt.Sprintf("bought a SKU of the category %q (paid, not refunded in full)", t.Name)
	case FieldAOV:
		return fmt.Sprintf("average order value (net of refunds) %s ¥%s (no orders: 0)", opWords[t.Op], FormatAmount(t.Num))
	case FieldRefunds:
		return fmt.Sprintf("purchases with money back %s %d", opWords[t.Op], t.Num)
	case FieldRefunded:
		return fmt.Sprintf("money refunded in total %s ¥%s", opWords[t.Op], FormatAmount(t.Num))
	case FieldRFM:
		return fmt.Sprintf("RFM score (100 R + 10 F + M, 0 without purchases) %s %d", opWords[t.Op], t.Num)
	case FieldRFMR:
		return fmt.Sprintf("recency quintile (5 bought most recently, 0 never) %s %d", opWords[t.Op], t.Num)
	case FieldRFMF:
		return fmt.Sprintf("frequency quintile (5 buys most often, 0 never) %s %d", opWords[t.Op], t.Num)
	case FieldRFMM:
		return fmt.Sprintf("monetary quintile (5 spent most, 0 never) %s %d", opWords[t.Op], t.Num)
	case FieldFirstOrder:
		return "the first order was " + dayWords(t) + " (no orders: never matches)"
	}
	return ""
}
