package orders

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

// Protected field names (internal/protect): each seals and indexes under
// its own name, so a value copied to another field's column does not open.
const (
	FieldAddress     = protect.FieldAddress
	FieldShopAccount = protect.FieldShopAccount
)

// The columns that hold values sealed under the field key, so that key
// rotation re-seals them (the sealed values name their key).
func init() {
	protect.RegisterColumn(protect.Column{Name: "orders.phone", Table: "orders", Key: []string{"id"}, Value: "phone_sealed",
		Where: "phone_sealed <> ''", ContextPrefix: "protect:" + protect.FieldPhone})
	protect.RegisterColumn(protect.Column{Name: "orders.address", Table: "orders", Key: []string{"id"}, Value: "address_sealed",
		Where: "address_sealed <> ''", ContextPrefix: "protect:" + protect.FieldAddress})
	protect.RegisterColumn(protect.Column{Name: "shop_identities", Table: "shop_identities", Key: []string{"id"}, Value: "account_sealed",
		KeyID: "key_id", ContextPrefix: "protect:" + protect.FieldShopAccount})
	protect.RegisterColumn(protect.Column{Name: "order_sources", Table: "order_sources", Key: []string{"name"}, Value: "secret_sealed",
		ContextPrefix: secretContext})
}

// Store keeps orders, payments and shop identities.
type Store struct {
	// Location is the instance's time zone: the 30, 90 and 365-day windows
	// of the customer facts start at midnight there. Nil is UTC.
	Location *time.Location

	db    *store.DB
	p     *protect.Protector
	clock kith.Clock
}

// NewStore returns the store of db, sealing protected fields with p.
func NewStore(db *store.DB, p *protect.Protector, clock kith.Clock) *Store {
	return &Store{db: db, p: p, clock: clock}
}

// Outcome is what a write did with one order.
type Outcome int

// The outcomes of Writer.Put.
const (
	Inserted  Outcome = iota + 1 // a new order
	Updated                      // a known order moved on (status, times, refund)
	Unchanged                    // the same order again
	Conflict                     // a known order with different amounts, items or buyer: not written
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Inserted:
		return "inserted"
	case Updated:
		return "updated"
	case Unchanged:
		return "unchanged"
	case Conflict:
		return "conflict"
	}
	return "unknown"
}

// ErrConflict explains a Conflict outcome.
var ErrConflict = kith.Errorf(kith.ECONFLICT, "an order with this shop and number is already stored with different amounts, items or buyer; it was not overwritten")

// Writer writes orders in one transaction and keeps the facts of every
// customer it touched current when the transaction ends.
type Writer struct {
	s        *Store
	q        *store.CachedTx
	now      time.Time
	ids      map[identityKey]identity
	shops    map[string]string  // one copy of each shop name the cache's keys hold
	phones   map[[32]byte]int64 // phone index → the one customer holding it, 0: none or several
	affected map[int64]bool

	// How the identities not in the cache turned out: an import into an
	// empty database meets mostly new ones, a re-import known ones; the
	// more frequent decides which statement is tried first.
	identNew, identKnown int
}

// identityKey is a shop identity in the Writer's cache: the shop and the
// account's blind index (an HMAC-SHA256, decoded from its hex).
type identityKey struct {
	shop  string
	index [32]byte
}

// maxCachedIdentities bounds the shop identities a Writer remembers (some
// 80 bytes each): enough for the buyers of a file of a few million orders,
// whose repeat orders then need no query.
const maxCachedIdentities = 2_000_000

type identity struct {
	id         int64
	customerID int64
	unlinked   bool // unlinked by hand: not linked again automatically
}

// Write runs fn with a Writer in one transaction: everything fn wrote and
// the facts of the customers it touched commit together, or nothing does.
func (s *Store) Write(ctx context.Context, fn func(w *Writer) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		w := &Writer{s: s, q: store.NewCachedTx(tx), now: s.clock.Now(), ids: map[identityKey]identity{}, shops: map[string]string{}, phones: map[[32]byte]int64{}, affected: map[int64]bool{}}
		defer w.q.Close()
		if err := fn(w); err != nil {
			return err
		}
		return w.finish(ctx)
	})
}

// Put writes one order: inserted when new, updated when only its status,
// times or refund moved on, left when the same, and refused with Conflict
// when its amounts, items or buyer differ from what is stored.
func (w *Writer) Put(ctx context.Context, o *Order) (Outcome, error) {
	if err := o.Validate(); err != nil {
		return 0, err
	}
	var phone protect.Sealed
	if n, ok := PlainMobile(o.Phone); ok {
		var err error
		if phone, err = w.s.p.Seal(protect.FieldPhone, n); err != nil {
			return 0, err
		}
		o.Phone = n
	} else {
		o.Phone = "" // masked or virtual numbers have no purpose here
	}
	var addr protect.Sealed
	if o.Address = strings.TrimSpace(o.Address); o.Address != "" {
		var err error
		if addr, err = w.s.p.Seal(FieldAddress, o.Address); err != nil {
			return 0, err
		}
	}
	core, progress := o.hashes()
	id, customerID, linkedBy, err := w.resolve(ctx, o, phone.Index)
	if err != nil {
		return 0, err
	}
	if err := w.putEmail(ctx, o, customerID); err != nil {
		return 0, err
	}
	orderID, err := w.insertID(ctx, `INSERT INTO orders (shop, order_no, source, identity_id, customer_id, linked_by, buyer_unionid,
		status, total_fen, freight_fen, refund_fen, ordered_at, paid_at, shipped_at, completed_at,
		phone_sealed, phone_index, address_sealed, address_index, core_hash, progress_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22)
		ON CONFLICT (shop, order_no) DO NOTHING`,
		o.Shop, o.OrderNo, o.Source, nullID(id), nullID(customerID), linkedBy, o.UnionID,
		string(o.Status), o.TotalFen, o.FreightFen, o.RefundFen, o.OrderedAt.UTC(), nullTime(o.PaidAt), nullTime(o.ShippedAt), nullTime(o.CompletedAt),
		phone.Value, phone.Index, addr.Value, addr.Index, core, progress, w.now)
	if err == nil {
		if err := w.putItems(ctx, orderID, o.Items); err != nil {
			return 0, err
		}
		w.touch(customerID)
		return Inserted, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("orders: insert %s/%s: %w", o.Shop, o.OrderNo, err)
	}
	var oldCore, oldProgress, oldSource, oldStatus string
	var oldCustomer sql.NullInt64
	var oldTotal, oldRefund int64
	var oldOrdered time.Time
	if err := w.q.QueryRowContext(ctx, `SELECT id, core_hash, progress_hash, customer_id, source, status, total_fen, refund_fen, ordered_at
		FROM orders WHERE shop = $1 AND order_no = $2`,
		o.Shop, o.OrderNo).Scan(&orderID, &oldCore, &oldProgress, &oldCustomer, &oldSource, &oldStatus, &oldTotal, &oldRefund, &oldOrdered); err != nil {
		return 0, fmt.Errorf("orders: read %s/%s: %w", o.Shop, o.OrderNo, err)
	}
	elsewhere := oldSource != o.Source
	switch {
	case oldCore != core && !(elsewhere && oldTotal == o.TotalFen && oldOrdered.Equal(o.OrderedAt)):
		return Conflict, nil
	case oldProgress == progress:
		return Unchanged, nil
	case statusRank(o.Status) < statusRank(Status(oldStatus)) || o.RefundFen < oldRefund,
		elsewhere && statusRank(o.Status) == statusRank(Status(oldStatus)) && o.RefundFen == oldRefund:
		// An order never moves back: an older file imported again after a
		// newer one (or after the ERP connector moved the order on)
		// changes nothing. The same order brought by another path (a file
		// and the ERP connector) may differ in detail — sources carry
		// different things (item prices, a buyer account, a masked phone),
		// so only the amount paid and the order time must agree above —
		// and moves the order on only when it is further along, so two
		// paths that word the same state differently do not undo each
		// other.
		return Unchanged, nil
	}
	if _, err := w.q.ExecContext(ctx, `UPDATE orders SET status = $1, refund_fen = $2, paid_at = $3, shipped_at = $4, completed_at = $5,
		progress_hash = $6, updated_at = $7 WHERE id = $8`,
		string(o.Status), o.RefundFen, nullTime(o.PaidAt), nullTime(o.ShippedAt), nullTime(o.CompletedAt), progress, w.now, orderID); err != nil {
		return 0, fmt.Errorf("orders: update %s/%s: %w", o.Shop, o.OrderNo, err)
	}
	w.touch(oldCustomer.Int64)
	return Updated, nil
}

// insertID runs an INSERT … ON CONFLICT DO NOTHING of one row and returns
// the new row's id, or sql.ErrNoRows when the row was there already. On
// SQLite it reads the rowid rather than adding RETURNING: SQLite runs a
// RETURNING clause as a trigger, which makes every such insert keep a
// statement journal (a copy of each page it changes), a sixth of a big
// import's time.
func (w *Writer) insertID(ctx context.Context, query string, args ...any) (int64, error) {
	if w.s.db.Dialect != store.SQLite {
		var id int64
		err := w.q.QueryRowContext(ctx, query+" RETURNING id", args...).Scan(&id)
		return id, err
	}
	res, err := w.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, cmpOr(err, sql.ErrNoRows)
	}
	return res.LastInsertId()
}

func cmpOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func (w *Writer) putItems(ctx context.Context, orderID int64, items []Item) error {
	for i, it := range items {
		if _, err := w.q.ExecContext(ctx, `INSERT INTO order_items (order_id, line, sku, title, quantity, price_fen) VALUES ($1, $2, $3, $4, $5, $6)`,
			orderID, i+1, it.SKU, it.Title, it.Quantity, it.PriceFen); err != nil {
			return fmt.Errorf("orders: insert item: %w", err)
		}
	}
	return nil
}

// touch marks a customer whose facts must be recomputed.
func (w *Writer) touch(customerID int64) {
	if customerID != 0 {
		w.affected[customerID] = true
	}
}

// resolve finds the order's shop identity (creating it) and customer.
func (w *Writer) resolve(ctx context.Context, o *Order, phoneIndex string) (identityID, customerID int64, linkedBy string, err error) {
	var ident identity
	var key identityKey
	if strings.TrimSpace(o.BuyerAccount) != "" {
		ident, key, err = w.identity(ctx, o.Shop, o.BuyerAccount)
		if err != nil {
			return 0, 0, "", err
		}
		if ident.customerID != 0 {
			return ident.id, ident.customerID, "identity", nil
		}
		if ident.unlinked {
			// Someone decided this account is not the customer its
			// phone suggests; its orders stay unlinked.
			return ident.id, 0, "", nil
		}
	}
	customerID, linkedBy, err = w.findCustomer(ctx, o.ExternalUserID, o.UnionID, phoneIndex)
	if err != nil || customerID == 0 || ident.id == 0 {
		return ident.id, customerID, linkedBy, err
	}
	// A deterministic match links the shop identity too, and with it the
	// identity's earlier orders that had no customer.
	if err := w.linkIdentity(ctx, ident.id, customerID, linkedBy); err != nil {
		return 0, 0, "", err
	}
	ident.customerID = customerID
	w.ids[key] = ident
	return ident.id, customerID, linkedBy, nil
}

func (w *Writer) linkIdentity(ctx context.Context, identityID, customerID int64, how string) error {
	if _, err := w.q.ExecContext(ctx, `UPDATE shop_identities SET customer_id = $1, linked_by = $2, linked_at = $3 WHERE id = $4`,
		nullID(customerID), how, nullTime(w.now), identityID); err != nil {
		return fmt.Errorf("orders: link identity: %w", err)
	}
	if _, err := w.q.ExecContext(ctx, `UPDATE orders SET customer_id = $1, linked_by = 'identity' WHERE identity_id = $2 AND customer_id IS NULL`,
		nullID(customerID), identityID); err != nil {
		return fmt.Errorf("orders: link identity's orders: %w", err)
	}
	w.touch(customerID)
	return nil
}

// identity returns the shop identity of an account, created when new.
func (w *Writer) identity(ctx context.Context, shop, account string) (identity, identityKey, error) {
	plain := shop + "\x00" + strings.TrimSpace(account)
	index := w.s.p.Index(FieldShopAccount, plain) // sealed only when new: most orders are a known buyer's
	if index == "" {
		_, err := w.s.p.Seal(FieldShopAccount, plain)
		return identity{}, identityKey{}, cmpOr(err, fmt.Errorf("orders: shop account %q has no index", truncate(account, 20)))
	}
	var key identityKey
	if n, err := hex.Decode(key.index[:], []byte(index)); err != nil || n != len(key.index) {
		return identity{}, identityKey{}, fmt.Errorf("orders: the blind index of a shop account is not 32 bytes of hex")
	}
	if key.shop = w.shops[shop]; key.shop == "" {
		if len(w.shops) >= 10_000 {
			clear(w.shops)
		}
		w.shops[shop], key.shop = shop, shop
	}
	if id, ok := w.ids[key]; ok {
		return id, key, nil
	}
	var id identity
	var cust sql.NullInt64
	var how string
	inserted := false
	insert := func() error {
		sealed, err := w.s.p.Seal(FieldShopAccount, plain)
		if err != nil {
			return err
		}
		id.id, err = w.insertID(ctx, `INSERT INTO shop_identities (shop, account_index, account_sealed, key_id, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (shop, account_index) DO NOTHING`, shop, sealed.Index, sealed.Value, sealed.KeyID, w.now)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("orders: insert shop identity: %w", err)
		}
		inserted = err == nil
		return err
	}
	read := func() error {
		err := w.q.QueryRowContext(ctx, `SELECT id, customer_id, linked_by FROM shop_identities WHERE shop = $1 AND account_index = $2`,
			shop, index).Scan(&id.id, &cust, &how)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("orders: read shop identity: %w", err)
		}
		return err
	}
	first, second := read, insert
	if w.identNew > w.identKnown {
		first, second = insert, read
	}
	if err := first(); errors.Is(err, sql.ErrNoRows) {
		if err := second(); err != nil {
			// Only a concurrent writer can make both miss (PostgreSQL).
			return identity{}, identityKey{}, fmt.Errorf("orders: shop identity: %w", err)
		}
	} else if err != nil {
		return identity{}, identityKey{}, err
	}
	if inserted {
		w.identNew++
	} else {
		w.identKnown++
	}
	id.customerID = cust.Int64
	id.unlinked = how == "manual_unlinked"
	if len(w.ids) >= maxCachedIdentities {
		clear(w.ids) // bounds the memory of a huge import; the table answers the rest
	}
	w.ids[key] = id
	return id, key, nil
}

// findCustomer finds the one customer an external_userid, a unionid or a
// phone index names, in that order; 0 when none does or a phone is held by
// several customers.
func (w *Writer) findCustomer(ctx context.Context, externalUserID, unionID, phoneIndex string) (int64, string, error) {
	one := func(how, query, arg string) (int64, string, error) {
		rows, err := w.q.QueryContext(ctx, query, arg)
		if err != nil {
			return 0, "", fmt.Errorf("orders: find customer by %s: %w", how, err)
		}
		defer rows.Close()
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return 0, "", err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return 0, "", err
		}
		if len(ids) == 1 {
			return ids[0], how, nil
		}
		return 0, "", nil
	}
	if externalUserID != "" {
		if id, how, err := one("external_userid", `SELECT id FROM customers WHERE external_userid = $1`, externalUserID); err != nil || id != 0 {
			return id, how, err
		}
	}
	if unionID != "" {
		if id, how, err := one("unionid", `SELECT id FROM customers WHERE unionid = $1 AND unionid <> '' LIMIT 2`, unionID); err != nil || id != 0 {
			return id, how, err
		}
	}
	if phoneIndex != "" {
		// The Writer never changes customer_phones, so within its
		// transaction a number's answer stays what it was: repeat buyers'
		// numbers are looked up once.
		var key [32]byte
		if n, err := hex.Decode(key[:], []byte(phoneIndex)); err != nil || n != len(key) {
			return one("phone", `SELECT DISTINCT customer_id FROM customer_phones WHERE phone_index = $1 LIMIT 2`, phoneIndex)
		}
		if id, ok := w.phones[key]; ok {
			return id, map[bool]string{true: "phone"}[id != 0], nil
		}
		id, how, err := one("phone", `SELECT DISTINCT customer_id FROM customer_phones WHERE phone_index = $1 LIMIT 2`, phoneIndex)
		if err == nil {
			if len(w.phones) >= maxCachedIdentities {
				clear(w.phones)
			}
			w.phones[key] = id
		}
		return id, how, err
	}
	return 0, "", nil
}

// PlainMobile returns a mainland mobile number's 11 digits, and false for
// anything else: masked numbers (138****1234), virtual numbers with an
// extension (13800138000-1234), landlines. Only plain numbers join orders
// to customers; the rest have no purpose and are not kept.
func PlainMobile(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "*＊") {
		return "", false
	}
	if i := strings.LastIndexByte(s, '-'); i > 0 && len(s)-i-1 >= 3 && len(s)-i-1 <= 4 && !strings.HasPrefix(s, "+") {
		// "1xxxxxxxxxx-1234": a virtual number's extension
		if d, err := protect.NormalizePhone(s[:i]); err == nil && len(d) == 11 {
			return "", false
		}
	}
	d, err := protect.NormalizePhone(s)
	if err != nil || len(d) != 11 || d[0] != '1' || d[1] < '3' || d[1] > '9' {
		return "", false
	}
	return d, true
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}
