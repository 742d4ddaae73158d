package campaign

import "testing"

func TestSMSSession(t *testing.T) {
	if c, b, ok := parseSMSSession(SMSSession(12, 345)); !ok || c != 12 || b != 345 {
		t.Errorf("round trip: %d, %d, %v", c, b, ok)
	}
	for _, s := range []string{"", "campaign-", "campaign-1", "campaign-1-batch-", "campaign--batch-2", "campaign-x-batch-2",
		"campaign-1-batch-2x", "campaign-0-batch-2", "campaign-1-batch--2", "Campaign-1-batch-2", "campaign-1-batch-2-batch-3",
		"campaign-99999999999999999999-batch-1", "campaign-+1-batch-2", "campaign-1-batch-02"} {
		if c, b, ok := parseSMSSession(s); ok {
			t.Errorf("%q read as campaign %d, batch %d", s, c, b)
		}
	}
}

func FuzzSMSSession(f *testing.F) {
	f.Add("campaign-1-batch-2")
	f.Add("campaign-1-batch-2-batch-3")
	f.Fuzz(func(t *testing.T, s string) {
		c, b, ok := parseSMSSession(s)
		if ok && (SMSSession(c, b) != s || c <= 0 || b <= 0) {
			t.Errorf("%q read as campaign %d, batch %d", s, c, b)
		}
	})
}
