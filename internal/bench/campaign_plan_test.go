package bench

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kith-scrm/kith/internal/campaign"
)

// TestCampaignBenchPlanOnly plans without sending: every customer is
// permitted, nothing is sent, planning's peak memory is reported (the
// gate's warm-up request is valid, or the bench fails), and no sink is
// started (a sink command that cannot run would fail the bench).
func TestCampaignBenchPlanOnly(t *testing.T) {
	rep, err := Campaign(context.Background(), CampaignOptions{Recipients: 700, Channel: campaign.Email, PlanOnly: true, DataDir: t.TempDir(),
		SinkCommand: []string{filepath.Join(t.TempDir(), "no-such-sink")}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Permitted != 700 || rep.Refused != 0 || rep.Sent != 0 || rep.SinkMessages != 0 || rep.PlanSeconds <= 0 {
		t.Errorf("report = %+v", rep)
	}
	if rep.PlanPeakMemoryMB <= 0 || rep.PeakMemoryMB <= 0 {
		t.Errorf("peak memory while planning %.1f MB, over the run %.1f MB", rep.PlanPeakMemoryMB, rep.PeakMemoryMB)
	}
}
