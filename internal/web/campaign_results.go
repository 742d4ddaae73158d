package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/kith"
)

// campaignChart draws a campaign's results over time as an inline SVG:
// messages handed over and delivered as bars side by side, opt-outs after
// the campaign as a red line, per hour or day. Like statsChart it is drawn
// on the server from numbers and times only.
func campaignChart(ser campaign.Series, loc *time.Location) template.HTML {
	const w, h, pad, axisPad = 720, 220, 24, 44
	n := len(ser.Points)
	if n == 0 {
		return ""
	}
	top := 1
	for _, p := range ser.Points {
		top = max(top, p.Sent, p.Delivered, p.OptedOut)
	}
	plotH := float64(h - 2*pad)
	base := float64(h - pad)
	y := func(v int) float64 { return base - plotH*float64(v)/float64(top) }
	slot := float64(w-axisPad-pad) / float64(n)
	barW := max(slot*0.35, 0.5)
	label := "01-02 15h"
	if ser.Step >= 24*time.Hour {
		label = "01-02"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="campaign-chart" viewBox="0 0 %d %d" role="img" xmlns="http://www.w3.org/2000/svg">`, w, h)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#888" stroke-width="1"/>`, axisPad, w-pad, base, base)
	fmt.Fprintf(&b, `<text x="2" y="%d" font-size="11" fill="#666">%d</text>`, pad+4, top)
	var line []string
	every := max(1, n/8)
	for i, p := range ser.Points {
		x := float64(axisPad) + slot*float64(i) + (slot-2*barW)/2
		at := p.At.In(loc).Format(label)
		if p.Sent > 0 {
			fmt.Fprintf(&b, `<rect class="bar-sent" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1565c0"><title>%s sent %d</title></rect>`, x, y(p.Sent), barW, base-y(p.Sent), at, p.Sent)
		}
		if p.Delivered > 0 {
			fmt.Fprintf(&b, `<rect class="bar-delivered" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2e7d32"><title>%s delivered %d</title></rect>`, x+barW, y(p.Delivered), barW, base-y(p.Delivered), at, p.Delivered)
		}
		line = append(line, fmt.Sprintf("%.1f,%.1f", x+barW, y(p.OptedOut)))
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" fill="#666" text-anchor="middle">%s</text>`, x+barW, h-6, at)
		}
	}
	fmt.Fprintf(&b, `<polyline class="opted-out" points="%s" fill="none" stroke="#c62828" stroke-width="2"/>`, strings.Join(line, " "))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and formatted times only
}

// campaignExport downloads the campaign's deliveries as CSV or XLSX
// (campaign.Export). Personal data is masked; ?reveal=1 shows it in full
// to a user allowed to reveal it, and the export is audited either way.
func (s *Server) campaignExport(w http.ResponseWriter, r *http.Request) {
	id, ok := s.campaignID(w, r)
	if !ok {
		return
	}
	format := campaign.FormatCSV
	if strings.HasSuffix(r.URL.Path, ".xlsx") {
		format = campaign.FormatXLSX
	}
	reveal := r.URL.Query().Get("reveal") == "1"
	if reveal && !principal(r).Can(auth.PermRevealPII) {
		s.pageError(w, r, kith.Errorf(kith.EFORBIDDEN, "Revealing personal data in an export needs the permission to reveal it."))
		return
	}
	if _, err := s.Campaigns.Get(r.Context(), id); err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionExport, "campaign", idString(id), "",
		map[string]any{"format": format, "revealed": reveal}); err != nil {
		s.pageError(w, r, err)
		return
	}
	typ := "text/csv; charset=utf-8"
	if format == campaign.FormatXLSX {
		typ = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="campaign-%d.%s"`, id, format))
	w.Header().Set("Cache-Control", "no-store")
	if err := s.Campaigns.Export(r.Context(), id, w, campaign.ExportOptions{Format: format, Reveal: reveal}); err != nil {
		s.Log.Error("campaign: export", "campaign", id, "err", err)
	}
}
