package orders

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
)

// Status is an order's state, the same words whatever the shop calls it.
type Status string

// The statuses of an order.
const (
	StatusPending   Status = "pending"   // placed, not paid
	StatusPaid      Status = "paid"      // paid, not shipped
	StatusShipped   Status = "shipped"   // on its way
	StatusCompleted Status = "completed" // received or the deal closed successfully
	StatusCancelled Status = "cancelled" // closed without payment
	StatusRefunded  Status = "refunded"  // paid, then refunded in full
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusPaid, StatusShipped, StatusCompleted, StatusCancelled, StatusRefunded:
		return true
	}
	return false
}

// Counts reports whether an order in this status is a purchase: it was
// paid (a refunded order counts, its refund is subtracted from the amount).
func (s Status) Counts() bool { return s != StatusPending && s != StatusCancelled }

// Bounds on what an order may hold.
const (
	// MaxAmountFen is the largest amount accepted, ten million yuan: more
	// is a mistake in the file (a phone number in the amount column), not an
	// order.
	MaxAmountFen = 10_000_000_00
	// MaxItems is the most lines one order may have.
	MaxItems = 500
	// MaxQuantity is the largest quantity of one line.
	MaxQuantity = 1_000_000
	maxText     = 512 // bytes of a shop, order number, SKU, title or account
	maxAddress  = 1024
)

// Order is one order as a source gives it. Phone and Address are plaintext
// here and sealed by the Writer; nothing else personal is carried.
type Order struct {
	Shop    string // the shop, e.g. "taobao:旗舰店"; with OrderNo, the order's key
	OrderNo string
	Source  string // import, webhook:NAME, erp:NAME

	BuyerAccount   string // the buyer's account in the shop (member name, pin); sealed as a shop identity
	UnionID        string // the buyer's WeChat unionid, when the shop has it
	ExternalUserID string // the buyer's WeCom external_userid, when the source knows it
	Phone          string // the receiver's mobile number; kept only when plain
	Address        string // the receiver's address, one string
	Email          string // the buyer's e-mail address; given to the linked customer (email.go), not kept on the order

	Status      Status
	TotalFen    int64 // what the buyer paid, freight included
	FreightFen  int64
	RefundFen   int64
	OrderedAt   time.Time
	PaidAt      time.Time // zero: not known
	ShippedAt   time.Time
	CompletedAt time.Time
	Items       []Item
}

// Item is one line of an order.
type Item struct {
	SKU      string // the merchant's SKU code
	Title    string
	Quantity int
	PriceFen int64 // unit price
}

// Validate checks an order's fields and returns an EINVALID error naming
// the first that is wrong.
func (o *Order) Validate() error {
	text := func(name, v string, max int, required bool) error {
		switch {
		case required && strings.TrimSpace(v) == "":
			return kith.Errorf(kith.EINVALID, "%s is missing", name)
		case len(v) > max:
			return kith.Errorf(kith.EINVALID, "%s is longer than %d bytes", name, max)
		case !utf8.ValidString(v):
			return kith.Errorf(kith.EINVALID, "%s is not valid UTF-8", name)
		}
		return nil
	}
	amount := func(name string, v int64) error {
		if v < 0 {
			return kith.Errorf(kith.EINVALID, "%s is negative", name)
		}
		if v > MaxAmountFen {
			return kith.Errorf(kith.EINVALID, "%s is more than %d yuan", name, MaxAmountFen/100)
		}
		return nil
	}
	for _, c := range []struct {
		name, v  string
		max      int
		required bool
	}{
		{"shop", o.Shop, maxText, true}, {"order number", o.OrderNo, maxText, true}, {"source", o.Source, maxText, true},
		{"buyer account", o.BuyerAccount, maxText, false}, {"unionid", o.UnionID, maxText, false},
		{"external_userid", o.ExternalUserID, maxText, false}, {"phone", o.Phone, maxText, false},
		{"address", o.Address, maxAddress, false},
	} {
		if err := text(c.name, c.v, c.max, c.required); err != nil {
			return err
		}
	}
	if strings.TrimSpace(o.Address) != "" {
		if _, err := protect.NormalizeAddress(o.Address); err != nil {
			return kith.Errorf(kith.EINVALID, "address: %s", kith.ErrorMessage(err))
		}
	}
	if !o.Status.Valid() {
		return kith.Errorf(kith.EINVALID, "status %q is not one of pending, paid, shipped, completed, cancelled, refunded", o.Status)
	}
	for _, a := range []struct {
		name string
		v    int64
	}{{"total", o.TotalFen}, {"freight", o.FreightFen}, {"refund", o.RefundFen}} {
		if err := amount(a.name, a.v); err != nil {
			return err
		}
	}
	if o.RefundFen > o.TotalFen {
		return kith.Errorf(kith.EINVALID, "the refund (%s) is more than the total (%s)", Yuan(o.RefundFen), Yuan(o.TotalFen))
	}
	if o.OrderedAt.IsZero() {
		return kith.Errorf(kith.EINVALID, "the order time is missing")
	}
	if len(o.Items) > MaxItems {
		return kith.Errorf(kith.EINVALID, "the order has %d lines, more than %d", len(o.Items), MaxItems)
	}
	for i, it := range o.Items {
		if err := text("SKU", it.SKU, maxText, false); err != nil {
			return kith.Errorf(kith.EINVALID, "line %d: %s", i+1, kith.ErrorMessage(err))
		}
		if err := text("title", it.Title, maxText, false); err != nil {
			return kith.Errorf(kith.EINVALID, "line %d: %s", i+1, kith.ErrorMessage(err))
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			return kith.Errorf(kith.EINVALID, "line %d: quantity %d is not from 1 to %d", i+1, it.Quantity, MaxQuantity)
		}
		if err := amount("price", it.PriceFen); err != nil {
			return kith.Errorf(kith.EINVALID, "line %d: %s", i+1, kith.ErrorMessage(err))
		}
	}
	return nil
}

// Yuan writes an amount in fen as yuan with two decimals.
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// hashes returns the order's core hash (what may not change once stored:
// buyer, receiver, amounts, order time, items) and progress hash (what may:
// status, refund, later times).
func (o *Order) hashes() (core, progress string) {
	h := sha256.New()
	put := func(h hash.Hash, s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	num := func(h hash.Hash, v int64) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	tm := func(h hash.Hash, t time.Time) {
		if t.IsZero() {
			num(h, 0)
			return
		}
		num(h, t.UTC().UnixMicro())
	}
	for _, s := range []string{o.BuyerAccount, o.UnionID, o.ExternalUserID, o.Phone, o.Address} {
		put(h, s)
	}
	num(h, o.TotalFen)
	num(h, o.FreightFen)
	tm(h, o.OrderedAt)
	num(h, int64(len(o.Items)))
	for _, it := range o.Items {
		put(h, it.SKU)
		put(h, it.Title)
		num(h, int64(it.Quantity))
		num(h, it.PriceFen)
	}
	core = hex.EncodeToString(h.Sum(nil)[:16])
	p := sha256.New()
	put(p, string(o.Status))
	num(p, o.RefundFen)
	tm(p, o.PaidAt)
	tm(p, o.ShippedAt)
	tm(p, o.CompletedAt)
	progress = hex.EncodeToString(p.Sum(nil)[:16])
	return core, progress
}
