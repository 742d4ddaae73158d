// Package orders keeps the merchant's orders and payments and joins them to
// customers.
//
// Orders come from files exported by the big Chinese stores (Import, with
// presets recognised from the header row), from a signed webhook (Webhook),
// from an ERP connector (package orders/jst) and, as payments, from WeCom
// external payments. Every path writes through a Writer, which is idempotent
// by shop and order number: the same order again changes nothing, a later
// status or refund updates it (an order never moves back), and different
// amounts, items or buyer are reported as a conflict, never silently
// overwritten. Shop keys are "platform:name" normalised by ShopKey, so the
// same store reached by a file and by the ERP connector is one shop; an
// order already stored from another source is the same order when the
// amount paid and the order time agree, whatever other details differ.
//
// Only what has a purpose is kept (privacy requirement P-8): the receiver's
// plain mobile number and address are sealed and blind-indexed with
// protect.Protector (P-42); the buyer account of a shop is kept as a sealed,
// indexed shop identity; receiver names, buyer messages, ID numbers and
// payment accounts are dropped when read.
//
// Orders are joined to customers deterministically, never from names: the
// WeCom external_userid or unionid when the source has one, a shop identity
// already linked, or a plain mobile number that exactly one customer's
// protected phones hold. Linking and unlinking a shop identity by hand are
// explicit, audited actions (Store.Link, Store.Unlink).
//
// The customer facts segments read (order_count, spent_30d_fen …
// last_order_at on customers) are recomputed for every customer a write
// touches, in the same transaction, and RefreshWindows moves the windowed
// amounts on as days pass.
package orders
