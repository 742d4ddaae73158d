package orders

import (
	"context"
	"strings"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
)

// FBuyerEmail is the buyer's e-mail address (no store preset exports one;
// a mapping names the column, and the webhook's buyer_email carries it).
const FBuyerEmail Field = "buyer_email"

func init() { Fields = append(Fields, FBuyerEmail) }

// putEmail gives the customer an order is linked to the order's buyer
// e-mail address (source import or webhook), sealed, unless they have it
// already or have the most addresses allowed. An address that is not one,
// or an order linked to no customer, keeps no address: it would have no
// purpose here.
func (w *Writer) putEmail(ctx context.Context, o *Order, customerID int64) error {
	addr := strings.TrimSpace(o.Email)
	o.Email = ""
	if addr == "" || customerID == 0 {
		return nil
	}
	if _, err := protect.NormalizeEmail(addr); err != nil {
		return nil
	}
	source := customer.EmailFromImport
	if strings.HasPrefix(o.Source, "webhook:") {
		source = customer.EmailFromWebhook
	}
	_, err := customer.AddEmail(ctx, w.q, w.s.p, customerID, addr, source, o.Source, w.now)
	if code := kith.ErrorCode(err); code == kith.ECONFLICT || code == kith.EINVALID {
		return nil
	}
	return err
}
