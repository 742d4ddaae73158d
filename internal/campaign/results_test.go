package campaign_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// finished runs a WeCom campaign to the vip customers of a 24-customer
// world (12: 4 refused NO_CONSENT, 8 sent at wed10 by bob), then moves
// some deliveries on as the platform would report: 2 delivered an hour
// later, 4 failed after it was accepted (X), 8 failed before (Y, no
// provider id), 10 in doubt. Customers 14, 16, 20 and 22 stay sent
// (waiting for bob's confirmation).
func finished(t *testing.T, db *store.DB) (*world, campaign.Campaign) {
	t.Helper()
	w := newWorld(t, db, 24)
	w.svc.Register(campaign.WeCom, &fakeTransport{svc: w.svc, sent: map[string]int{}}, nil)
	c := started(t, w)
	if st := runAll(t, w.svc, c.ID); st != campaign.Finished {
		t.Fatalf("step %v", st)
	}
	hour := wed10.Add(time.Hour)
	mustExec(t, db, "UPDATE campaign_deliveries SET state = 'delivered', updated_at = $1 WHERE customer_id = 2", hour)
	mustExec(t, db, "UPDATE campaign_deliveries SET state = 'failed', reason = 'X' WHERE customer_id = 4")
	mustExec(t, db, "UPDATE campaign_deliveries SET state = 'failed', reason = 'Y', provider_id = '' WHERE customer_id = 8")
	mustExec(t, db, "UPDATE campaign_deliveries SET state = 'unknown', reason = 'IN_DOUBT' WHERE customer_id = 10")
	return w, c
}

// optOut records that customer wm<i> withdrew WeCom marketing at at.
func optOut(t *testing.T, w *world, i int, at time.Time, src consent.Source) {
	t.Helper()
	err := consent.NewLedger(nil, testKey).Record(context.Background(), w.db.W, consent.Event{Person: consent.ExternalUser(fmt.Sprintf("wm%d", i)),
		Purpose: consent.Marketing, Channel: consent.ChannelWeCom, Action: consent.Withdraw, Source: src,
		Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/stop", consent.EvidenceMessageID: "mo1"}, RecordedBy: "web", OccurredAt: at, ReceivedAt: at})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSummary: every count of a campaign's results, and the opt-outs
// after it: within the week after the send only, once per recipient.
func TestSummary(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w, c := finished(t, db)
		optOut(t, w, 14, wed10.Add(time.Hour), consent.SourceOptOutReply)      // counted
		optOut(t, w, 14, wed10.Add(3*time.Hour), consent.SourceConsole)        // the same recipient again: once
		optOut(t, w, 2, wed10.Add(2*time.Hour), consent.SourceMemberDeleted)   // delivered, then gone: counted
		optOut(t, w, 16, wed10.Add(8*24*time.Hour), consent.SourceOptOutReply) // more than a week later
		optOut(t, w, 20, wed10.Add(-time.Hour), consent.SourceOptOutReply)     // before the send
		optOut(t, w, 8, wed10.Add(time.Hour), consent.SourceOptOutReply)       // never sent (failed before)
		s, err := w.svc.Summarize(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := campaign.Summary{Recipients: 12, Planned: 8, Waiting: 0, Sent: 6, Delivered: 1, Unknown: 1, Refused: 4, Failed: 2,
			RefusedBy: map[string]int{"NO_CONSENT": 4}, FailedBy: map[string]int{"X": 1, "Y": 1}, OptedOut: 2,
			OptedOutBy: map[string]int{"opt_out_reply": 1, "member_deleted": 1}, Unconfirmed: map[string]int{"bob": 4}}
		if fmt.Sprint(s) != fmt.Sprint(want) {
			t.Errorf("summary\n got %+v\nwant %+v", s, want)
		}
		ser, err := w.svc.Timeline(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(ser.Step)
		for _, p := range ser.Points {
			got += fmt.Sprintf(" %s:%d/%d/%d", p.At.Format("15h"), p.Sent, p.Delivered, p.OptedOut)
		}
		// Hours in Shanghai: the sends at 10:00, the delivery and an
		// opt-out at 11:00, the other opt-out at 12:00.
		if want := "1h0m0s 10h:6/0/0 11h:0/1/1 12h:0/0/1"; got != want {
			t.Errorf("timeline %s; want %s", got, want)
		}
	})
}

// TestExportFormats: CSV and XLSX carry the same rows; personal data is
// masked unless revealed; formulas are defused; the XLSX is well-formed
// and opens with the orders importer's reader.
func TestExportFormats(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w, c := finished(t, db)
		optOut(t, w, 14, wed10.Add(time.Hour), consent.SourceOptOutReply)
		mustExec(t, db, "UPDATE customers SET name = '=cmd|calc' WHERE id = 14")
		mustExec(t, db, "UPDATE campaign_deliveries SET detail = $1 WHERE customer_id = 16", "@SUM(1)\x01<b>&")
		export := func(o campaign.ExportOptions) [][]string {
			var b bytes.Buffer
			if err := w.svc.Export(ctx, c.ID, &b, o); err != nil {
				t.Fatal(err)
			}
			if o.Format == campaign.FormatXLSX {
				return readXLSX(t, b.Bytes())
			}
			recs, err := csv.NewReader(&b).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			return recs
		}
		masked := export(campaign.ExportOptions{})
		revealed := export(campaign.ExportOptions{Reveal: true})
		xl := export(campaign.ExportOptions{Format: campaign.FormatXLSX})
		if len(masked) != 13 || len(xl) != 13 || strings.Join(masked[0], ",") != strings.Join(campaign.ExportColumns, ",") {
			t.Fatalf("csv %d rows, xlsx %d; header %q", len(masked), len(xl), masked[0])
		}
		row := func(recs [][]string, id string) []string {
			for _, r := range recs {
				if r[0] == id {
					return r
				}
			}
			t.Fatalf("no row of customer %s", id)
			return nil
		}
		if r := row(masked, "14"); r[1] != "wm14***" || r[9] != "'=**" || r[10] != "2026-03-04T03:00:00Z" {
			t.Errorf("masked row 14 = %q", r)
		}
		if r := row(revealed, "14"); r[1] != "wm14" || r[9] != "'=cmd|calc" {
			t.Errorf("revealed row 14 = %q", r)
		}
		if r := row(masked, "16"); r[6] != "'@SUM(1)\x01<b>&" || r[10] != "" {
			t.Errorf("csv row 16 = %q", r)
		}
		for i := range masked {
			want := strings.Join(masked[i], "|")
			if i > 0 && masked[i][0] == "16" {
				want = strings.Replace(want, "\x01", "\uFFFD", 1) // XML cannot hold a control character
			}
			if got := strings.Join(xl[i], "|"); got != want {
				t.Errorf("xlsx row %d = %q; csv %q", i, got, want)
			}
		}
	})
}

// readXLSX checks that every part of an XLSX is well-formed XML, that the
// orders importer reads its header, and returns its rows.
func readXLSX(t *testing.T, b []byte) [][]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var sheet []byte
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		d := xml.NewDecoder(bytes.NewReader(body))
		for {
			if _, err := d.Token(); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("%s is not well-formed: %v", f.Name, err)
				}
				break
			}
		}
		if f.Name == "xl/worksheets/sheet1.xml" {
			sheet = body
		}
	}
	header, format, err := orders.ReadHeader(bytes.NewReader(b), int64(len(b)), 0)
	if err != nil || format != "xlsx" || strings.Join(header, ",") != strings.Join(campaign.ExportColumns, ",") {
		t.Fatalf("the orders reader: %q %s %v", header, format, err)
	}
	var ws struct {
		Rows []struct {
			Cells []struct {
				T string `xml:"is>t"`
			} `xml:"c"`
		} `xml:"sheetData>row"`
	}
	if err := xml.Unmarshal(sheet, &ws); err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, r := range ws.Rows {
		var rec []string
		for _, c := range r.Cells {
			rec = append(rec, c.T)
		}
		out = append(out, rec)
	}
	return out
}
