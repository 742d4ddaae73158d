package bench

import (
	"context"
	"testing"

	"github.com/kith-scrm/kith/internal/campaign"
)

// TestCampaignBenchEmail runs `kith bench campaign` small: every customer
// is planned, sent once through the Mailer and received by the sink.
func TestCampaignBenchEmail(t *testing.T) {
	rep, err := Campaign(context.Background(), CampaignOptions{Recipients: 1200, Channel: campaign.Email, BatchSize: 500, Conns: 3, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Permitted != 1200 || rep.Refused != 0 {
		t.Fatalf("planned %d, refused %d; want 1200 and 0", rep.Permitted, rep.Refused)
	}
	if rep.Sent != 1200 || rep.NotSent != 0 || rep.SinkMessages != 1200 {
		t.Fatalf("sent %d (not sent %d), the sink got %d; want 1200 each", rep.Sent, rep.NotSent, rep.SinkMessages)
	}
	if rep.MessageBytes < 2000 || rep.MessageBytes > 4000 {
		t.Errorf("a message is %.0f bytes; the bench's is about 2.7 KB", rep.MessageBytes)
	}
	if rep.PlanSeconds <= 0 || rep.MessagesPerSecond <= 0 || rep.CPUSecondsPer100k <= 0 || rep.PeakMemoryMB <= 0 {
		t.Errorf("missing figures: %+v", rep)
	}
}

// TestCampaignBenchWeCom plans and sends a campaign to the sandbox: one
// task per member and batch, every customer in one.
func TestCampaignBenchWeCom(t *testing.T) {
	rep, err := Campaign(context.Background(), CampaignOptions{Recipients: 300, Channel: campaign.WeCom, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Permitted == 0 || rep.Sent != int64(rep.Permitted) || rep.Tasks == 0 {
		t.Fatalf("planned %d, sent %d in %d tasks", rep.Permitted, rep.Sent, rep.Tasks)
	}
}
