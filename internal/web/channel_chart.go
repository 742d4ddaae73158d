package web

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/kith-scrm/kith/internal/acquisition"
)

// statsChart draws a channel's days as an inline SVG: new customers as
// bars above the axis, lost ones below, net growth as a line. It is drawn
// on the server (no script), from numbers and dates only, so it needs no
// escaping beyond what Sprintf of numbers gives. (DESIGN names ECharts;
// this is the lighter stand-in until it is vendored.)
func statsChart(st *acquisition.Stats) template.HTML {
	const w, h, pad, axisPad = 720, 240, 28, 36
	n := len(st.Days)
	if n == 0 {
		return ""
	}
	top, bottom := 1, 0
	for _, d := range st.Days {
		top = max(top, d.New, d.Net())
		bottom = max(bottom, d.Lost, -d.Net())
	}
	span := float64(top + bottom)
	plotH := float64(h - 2*pad)
	zero := pad + plotH*float64(top)/span
	y := func(v int) float64 { return zero - plotH*float64(v)/span }
	slot := float64(w-axisPad-pad) / float64(n)
	barW := max(slot*0.6, 1)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="channel-chart" viewBox="0 0 %d %d" role="img" aria-labelledby="channel-chart-title" xmlns="http://www.w3.org/2000/svg">`, w, h)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#888" stroke-width="1"/>`, axisPad, w-pad, zero, zero)
	fmt.Fprintf(&b, `<text x="2" y="%d" font-size="11" fill="#666">%d</text>`, pad+4, top)
	if bottom > 0 {
		fmt.Fprintf(&b, `<text x="2" y="%d" font-size="11" fill="#666">-%d</text>`, h-pad, bottom)
	}
	var line []string
	labelEvery := max(1, n/10)
	for i, d := range st.Days {
		x := float64(axisPad) + slot*float64(i) + (slot-barW)/2
		if d.New > 0 {
			fmt.Fprintf(&b, `<rect class="bar-new" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2e7d32"><title>%s +%d</title></rect>`, x, y(d.New), barW, zero-y(d.New), d.Day, d.New)
		}
		if d.Lost > 0 {
			fmt.Fprintf(&b, `<rect class="bar-lost" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#c62828"><title>%s -%d</title></rect>`, x, zero, barW, y(-d.Lost)-zero, d.Day, d.Lost)
		}
		line = append(line, fmt.Sprintf("%.1f,%.1f", x+barW/2, y(d.Net())))
		if i%labelEvery == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" fill="#666" text-anchor="middle">%s</text>`, x+barW/2, h-6, d.Day[5:])
		}
	}
	fmt.Fprintf(&b, `<polyline class="net" points="%s" fill="none" stroke="#1565c0" stroke-width="2"/>`, strings.Join(line, " "))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and ISO dates only
}
