package orders

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// The webhook: shops and ERPs push orders and status changes as JSON,
// signed with the source's secret (docs/api.md).
const (
	// HeaderTimestamp carries the Unix time in seconds the sender signed at.
	HeaderTimestamp = "X-Kith-Timestamp"
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256, under the
	// source's secret, of the timestamp, a full stop, and the raw body.
	HeaderSignature = "X-Kith-Signature"
	// WebhookMaxBody bounds a delivery.
	WebhookMaxBody = 4 << 20
	// WebhookMaxSkew is how far the timestamp may be from Kith's clock; an
	// older delivery is refused as a possible replay.
	WebhookMaxSkew = 5 * time.Minute
	// WebhookMaxOrders bounds the orders of one delivery.
	WebhookMaxOrders = 1000
	// secretContext binds a sealed webhook secret to its column.
	secretContext = "orders:webhook_secret"
)

var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Sign returns the signature header value of body signed at timestamp.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// AddSource creates a webhook source and returns its signing secret, which
// is stored sealed and shown only now.
func (s *Store) AddSource(ctx context.Context, name string) (string, error) {
	if !sourceName.MatchString(name) {
		return "", kith.Errorf(kith.EINVALID, "a source name is 1 to 32 lowercase letters, digits, _ or -, starting with a letter or digit")
	}
	var b [32]byte
	rand.Read(b[:])
	secret := "whsec_" + base64.RawURLEncoding.EncodeToString(b[:])
	sealed := s.p.Sealer().Seal(secret, secretContext)
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO order_sources (name, secret_sealed, created_at) VALUES ($1, $2, $3)`, name, sealed, s.clock.Now())
	if store.IsUniqueViolation(err) {
		return "", kith.Errorf(kith.ECONFLICT, "a source %q exists already", name)
	}
	if err != nil {
		return "", fmt.Errorf("orders: add source: %w", err)
	}
	return secret, nil
}

// Sources lists the webhook sources' names.
func (s *Store) Sources(ctx context.Context) ([]string, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT name FROM order_sources ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("orders: list sources: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// errSignature is one answer for an unknown source and a wrong signature,
// so a caller cannot probe for source names.
var errSignature = kith.Errorf(kith.EUNAUTHORIZED, "the signature does not match the body and timestamp (see docs/api.md, the orders webhook)")

// VerifyWebhook checks a delivery's timestamp and signature.
func (s *Store) VerifyWebhook(ctx context.Context, source, timestamp, signature string, body []byte) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return kith.Errorf(kith.EUNAUTHORIZED, "the %s header must be the Unix time in seconds", HeaderTimestamp)
	}
	if skew := s.clock.Now().Sub(time.Unix(ts, 0)); skew > WebhookMaxSkew || skew < -WebhookMaxSkew {
		return kith.Errorf(kith.EUNAUTHORIZED, "the timestamp is %s away from Kith's clock, more than %s: a replay, or a clock to set right", skew.Round(time.Second).Abs(), WebhookMaxSkew)
	}
	var sealed string
	err = s.db.R.QueryRowContext(ctx, `SELECT secret_sealed FROM order_sources WHERE name = $1`, source).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return errSignature
	}
	if err != nil {
		return fmt.Errorf("orders: read source: %w", err)
	}
	secret, err := s.p.Sealer().Open(sealed, secretContext)
	if err != nil {
		return fmt.Errorf("orders: open the secret of source %s: %w", source, err)
	}
	if !hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(strings.TrimSpace(signature))) {
		return errSignature
	}
	return nil
}

// WebhookOrder is one order of a delivery, as docs/api.md describes it.
type WebhookOrder struct {
	Shop           string        `json:"shop"`
	Platform       string        `json:"platform"` // optional: the store's platform (taobao, jd, …), to share shop keys with files and the connector
	OrderNo        string        `json:"order_no"`
	BuyerAccount   string        `json:"buyer_account"`
	UnionID        string        `json:"unionid"`
	ExternalUserID string        `json:"external_userid"`
	ReceiverPhone  string        `json:"receiver_phone"`
	BuyerEmail     string        `json:"buyer_email"`
	Address        string        `json:"receiver_address"`
	Status         Status        `json:"status"`
	TotalFen       int64         `json:"total_fen"`
	FreightFen     int64         `json:"freight_fen"`
	RefundFen      int64         `json:"refund_fen"`
	OrderedAt      time.Time     `json:"ordered_at"`
	PaidAt         *time.Time    `json:"paid_at"`
	ShippedAt      *time.Time    `json:"shipped_at"`
	CompletedAt    *time.Time    `json:"completed_at"`
	Items          []WebhookItem `json:"items"`
}

// WebhookItem is one line of a webhook order.
type WebhookItem struct {
	SKU      string `json:"sku"`
	Title    string `json:"title"`
	Quantity int    `json:"quantity"`
	PriceFen int64  `json:"price_fen"`
}

// WebhookResult says what a delivery did.
type WebhookResult struct {
	Received  int               `json:"received"`
	Inserted  int               `json:"inserted"`
	Updated   int               `json:"updated"`
	Unchanged int               `json:"unchanged"`
	Conflicts []WebhookConflict `json:"conflicts"`
}

// WebhookConflict is an order of a delivery that differs from the stored
// one in amounts, items or buyer: reported, not written.
type WebhookConflict struct {
	Index   int    `json:"index"`
	OrderNo string `json:"order_no"`
	Message string `json:"message"`
}

// ReceiveWebhook writes a verified delivery's orders in one transaction:
// all of them, or, when one is invalid, none (the error names it). The
// shop is prefixed with the source's name, so two sources never share
// order keys, unless the order names its platform: then its shop key is
// ShopKey(platform, shop), the one files and the connector use.
func (s *Store) ReceiveWebhook(ctx context.Context, source string, body []byte) (*WebhookResult, error) {
	var in struct {
		Orders []WebhookOrder `json:"orders"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields() // undeclared fields are refused, not stored (P-8)
	if err := dec.Decode(&in); err != nil {
		return nil, kith.Errorf(kith.EINVALID, "the body is not an orders delivery: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, kith.Errorf(kith.EINVALID, "the body has something after the JSON object")
	}
	switch n := len(in.Orders); {
	case n == 0:
		return nil, kith.Errorf(kith.EINVALID, `the delivery has no orders; send {"orders": [...]}`)
	case n > WebhookMaxOrders:
		return nil, kith.Errorf(kith.EINVALID, "the delivery has %d orders, more than %d; send them in parts", n, WebhookMaxOrders)
	}
	res := &WebhookResult{Received: len(in.Orders), Conflicts: []WebhookConflict{}}
	err := s.Write(ctx, func(w *Writer) error {
		for i, wo := range in.Orders {
			if p := wo.Platform; p != "" && (len(p) > 32 || strings.ContainsAny(p, ": \t\r\n")) {
				return kith.Errorf(kith.EINVALID, "orders[%d] (%s): platform %q is not a platform name (at most 32 characters, no colon or space), e.g. taobao", i, truncate(wo.OrderNo, 40), truncate(p, 40))
			}
			o := wo.order(source)
			if err := o.Validate(); err != nil {
				return kith.Errorf(kith.EINVALID, "orders[%d] (%s): %s", i, truncate(wo.OrderNo, 40), kith.ErrorMessage(err))
			}
			out, err := w.Put(ctx, &o)
			if err != nil {
				return err
			}
			switch out {
			case Inserted:
				res.Inserted++
			case Updated:
				res.Updated++
			case Unchanged:
				res.Unchanged++
			case Conflict:
				res.Conflicts = append(res.Conflicts, WebhookConflict{Index: i, OrderNo: wo.OrderNo, Message: kith.ErrorMessage(ErrConflict)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (wo *WebhookOrder) order(source string) Order {
	t := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return p.UTC()
	}
	o := Order{Shop: source + ":" + wo.Shop, OrderNo: wo.OrderNo, Source: "webhook:" + source, BuyerAccount: wo.BuyerAccount,
		UnionID: wo.UnionID, ExternalUserID: wo.ExternalUserID, Phone: wo.ReceiverPhone, Address: wo.Address, Status: wo.Status,
		TotalFen: wo.TotalFen, FreightFen: wo.FreightFen, RefundFen: wo.RefundFen, OrderedAt: wo.OrderedAt.UTC(),
		PaidAt: t(wo.PaidAt), ShippedAt: t(wo.ShippedAt), CompletedAt: t(wo.CompletedAt)}
	o.Email = wo.BuyerEmail
	if wo.Platform != "" {
		// The same key a file of that store's export and the 聚水潭
		// connector give the shop: one order, however it arrives.
		o.Shop = ShopKey(wo.Platform, wo.Shop)
	}
	if wo.Shop == "" {
		o.Shop = ""
	}
	if wo.OrderedAt.IsZero() {
		o.OrderedAt = time.Time{}
	}
	for _, it := range wo.Items {
		o.Items = append(o.Items, Item(it))
	}
	return o
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s must be a %s (byte %d)", typ.Field, typ.Type, typ.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "the field " + strings.TrimPrefix(err.Error(), "json: unknown field ") + " is not part of the format and is not accepted"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends early"
	}
	return truncate(err.Error(), 120)
}
