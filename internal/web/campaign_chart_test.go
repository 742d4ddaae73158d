package web

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
)

// TestCampaignChart: one bar per non-zero count, the opt-out line through
// every step, labels in the instance's zone, well-formed SVG.
func TestCampaignChart(t *testing.T) {
	at := time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)
	sh := time.FixedZone("CST", 8*3600)
	ser := campaign.Series{Step: time.Hour, Points: []campaign.Point{
		{At: at, Sent: 100}, {At: at.Add(time.Hour), Delivered: 60, OptedOut: 2}, {At: at.Add(2 * time.Hour), OptedOut: 1}}}
	svg := string(campaignChart(ser, sh))
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, svg)
	}
	for _, want := range []string{`id="campaign-chart"`, "03-04 10h sent 100", "03-04 11h delivered 60", `class="opted-out"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q:\n%s", want, svg)
		}
	}
	if n := strings.Count(svg, "<rect"); n != 2 {
		t.Errorf("%d bars; want 2", n)
	}
	if pts := strings.Count(svg, ",") - 0; !strings.Contains(svg, `points="`) || pts < 3 {
		t.Errorf("the line has %d points", pts)
	}
	if campaignChart(campaign.Series{}, sh) != "" {
		t.Error("an empty series draws a chart")
	}
}
