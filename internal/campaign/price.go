package campaign

import (
	"context"
	"fmt"
)

// SMSPricer returns the price of one billed SMS part, in fen, as the
// operator saved it with the SMS provider (Settings → SMS provider); ok is
// false when none is saved.
type SMSPricer func(ctx context.Context) (fen float64, ok bool, err error)

// SetSMSPricer sets where the SMS cost estimate's price comes from; until
// one is set, or while none is saved, the estimate uses
// SMSPricePerPartFen.
func (s *Service) SetSMSPricer(p SMSPricer) { s.pricer = p }

// SMSPrice is the price of one billed SMS part, in fen, that the cost
// estimate uses: the saved one, else SMSPricePerPartFen. saved says which.
func (s *Service) SMSPrice(ctx context.Context) (fen float64, saved bool, err error) {
	if s.pricer == nil {
		return SMSPricePerPartFen, false, nil
	}
	fen, ok, err := s.pricer(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("campaign: sms price: %w", err)
	}
	if !ok || fen <= 0 {
		return SMSPricePerPartFen, false, nil
	}
	return fen, true, nil
}

// smsPricePerPart is SMSPrice for a preview: a price that cannot be read
// (the settings unreadable for a moment) falls back to the default rather
// than failing the preview.
func (s *Service) smsPricePerPart(ctx context.Context) float64 {
	fen, _, err := s.SMSPrice(ctx)
	if err != nil {
		return SMSPricePerPartFen
	}
	return fen
}
