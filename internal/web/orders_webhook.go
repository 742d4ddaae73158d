package web

import (
	"errors"
	"io"
	"net/http"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
)

// ordersStore returns the orders store of the server's database, or nil
// when protected fields cannot be sealed (no protector).
func (s *Server) ordersStore() *orders.Store {
	if s.Protector == nil {
		return nil
	}
	st := orders.NewStore(s.DB, s.Protector, s.Clock)
	st.Location = s.Location
	return st
}

// ordersWebhook takes a signed delivery of orders from a shop or ERP
// (docs/api.md): the timestamp and HMAC are checked over the raw body
// before anything is parsed, then the orders are written in one
// transaction and the outcome answered.
func (s *Server) ordersWebhook(w http.ResponseWriter, r *http.Request) {
	st := s.ordersStore()
	if st == nil {
		s.apiError(w, r, kith.Errorf(kith.EUNAVAILABLE, "orders cannot be received before the instance's keys are loaded"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, orders.WebhookMaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": map[string]string{"code": kith.EINVALID,
				"message": "the body is larger than 4 MB; send fewer orders at a time"}})
			return
		}
		s.apiError(w, r, kith.Errorf(kith.EINVALID, "the body could not be read"))
		return
	}
	source := r.PathValue("source")
	if err := st.VerifyWebhook(r.Context(), source, r.Header.Get(orders.HeaderTimestamp), r.Header.Get(orders.HeaderSignature), body); err != nil {
		s.Log.Warn("orders webhook refused", "source", source, "ip", clientIP(r), "reason", kith.ErrorMessage(err))
		s.apiError(w, r, err)
		return
	}
	res, err := st.ReceiveWebhook(r.Context(), source, body)
	if err != nil {
		s.apiError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
