package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
)

// auditQuery is the audit log's filter as the request gave it, to echo in
// the form and carry into links.
type auditQuery struct {
	Person, Actor, Action, Since, Until string
}

// values returns the filter as query parameters, alternating names and
// values for withQuery.
func (q auditQuery) values(extra ...string) []string {
	return append([]string{"person", q.Person, "actor", q.Actor, "action", q.Action, "since", q.Since, "until", q.Until}, extra...)
}

// detail returns the non-empty filter fields, each shortened, for the audit
// entry that records the read.
func (q auditQuery) detail() map[string]any {
	d := map[string]any{}
	for _, kv := range [][2]string{{"person", q.Person}, {"actor", q.Actor}, {"action", q.Action}, {"since", q.Since}, {"until", q.Until}} {
		if kv[1] != "" {
			d[kv[0]] = clip(kv[1], 60)
		}
	}
	return d
}

// auditFilter reads the audit log's filter from the query: person, actor
// (a user name or kind:name), action (one action or a prefix such as
// auth.*), since and until (dates in the instance's time zone, both days
// included, or RFC 3339 times), before and limit.
func (s *Server) auditFilter(q url.Values) (audit.Filter, auditQuery, error) {
	var f audit.Filter
	var aq auditQuery
	var err error
	for _, p := range []struct {
		name string
		dst  *string
	}{{"person", &aq.Person}, {"actor", &aq.Actor}, {"action", &aq.Action}, {"since", &aq.Since}, {"until", &aq.Until}} {
		if *p.dst, err = queryParam(q, p.name); err != nil {
			return f, aq, err
		}
	}
	f.Person, f.Actor, f.Action = aq.Person, aq.Actor, aq.Action
	if f.Since, err = s.parseDay(aq.Since, "since", false); err != nil {
		return f, aq, err
	}
	if f.Until, err = s.parseDay(aq.Until, "until", true); err != nil {
		return f, aq, err
	}
	if f.Before, err = positiveParam(q, "before"); err != nil {
		return f, aq, err
	}
	if f.Limit, err = limitParam(q, 500); err != nil {
		return f, aq, err
	}
	// Refused here, before the read is recorded.
	return f, aq, f.CheckAction()
}

// parseDay reads a date (2025-03-01, in the instance's time zone) or an
// RFC 3339 time. A date read as an end gives the start of the next day, so
// that the day itself is included.
func (s *Server) parseDay(v, name string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, s.Location); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, kith.Errorf(kith.EINVALID, "The parameter %s must be a date such as 2025-03-01, not %q.", name, clip(v, 40))
}

// auditListData is the audit log page.
type auditListData struct {
	Query      auditQuery
	Entries    []audit.Entry
	NextURL    string
	FirstURL   string
	CSVURL     string
	JSONLURL   string
	Report     audit.Report
	Checkpoint *audit.Checkpoint // nil while the log is broken
}

// auditList shows the audit log, newest first, with its filters, keyset
// paging, export links and the result of verifying the chain. The read is
// recorded first, so it is the newest entry the page shows.
func (s *Server) auditList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, aq, err := s.auditFilter(r.URL.Query())
	if err == nil {
		err = s.auditEvent(ctx, r, audit.ActionAuditRead, "audit_log", "", aq.Person, aq.detail())
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := &auditListData{Query: aq}
	var next int64
	if d.Entries, next, err = s.Audit.List(ctx, f); err != nil {
		s.pageError(w, r, err)
		return
	}
	if d.Report, err = s.Audit.Verify(ctx); err != nil {
		s.pageError(w, r, err)
		return
	}
	if d.Report.OK() {
		// What Log.Checkpoint returns, without walking the log twice.
		d.Checkpoint = &audit.Checkpoint{Seq: d.Report.Last, Hash: d.Report.Head, At: s.Clock.Now().UTC()}
	}
	limit := ""
	if f.Limit != 0 {
		limit = strconv.Itoa(f.Limit)
	}
	if next > 0 {
		d.NextURL = withQuery("/audit", aq.values("limit", limit, "before", strconv.FormatInt(next, 10))...)
	}
	if f.Before > 0 {
		d.FirstURL = withQuery("/audit", aq.values("limit", limit)...)
	}
	d.CSVURL = withQuery("/audit/export", aq.values("format", audit.FormatCSV)...)
	d.JSONLURL = withQuery("/audit/export", aq.values("format", audit.FormatJSONL)...)
	s.render(w, r, http.StatusOK, "audit", d)
}

// auditExport streams the filtered audit log as a CSV or JSON-lines
// attachment, for the console and the API alike. The export is recorded
// first: an export that cannot be recorded does not happen.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, fail func(http.ResponseWriter, *http.Request, error)) {
	ctx := r.Context()
	q := r.URL.Query()
	f, aq, err := s.auditFilter(q)
	if err != nil {
		fail(w, r, err)
		return
	}
	f.Before, f.Limit = 0, 0 // an export is the whole filtered log, oldest first
	format := strings.TrimSpace(q.Get("format"))
	contentType := map[string]string{audit.FormatCSV: "text/csv; charset=utf-8", audit.FormatJSONL: "application/x-ndjson"}[format]
	if contentType == "" {
		fail(w, r, kith.Errorf(kith.EINVALID, "The parameter format must be csv or jsonl, not %q.", clip(format, 20)))
		return
	}
	detail := aq.detail()
	detail["format"] = format
	if err := s.auditEvent(ctx, r, audit.ActionAuditExport, "audit_log", "", aq.Person, detail); err != nil {
		fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", `attachment; filename="kith-audit-`+s.Clock.Now().In(s.Location).Format("20060102-150405")+"."+format+`"`)
	h.Set("Cache-Control", "no-store")
	cw := &countingWriter{w: w}
	if _, err := s.Audit.Export(ctx, cw, f, format); err != nil {
		if cw.n == 0 {
			h.Del("Content-Disposition")
			fail(w, r, err)
			return
		}
		// The status is sent; a cut-off file is all the client can get.
		s.Log.Error("audit export cut off", "err", err, "bytes", cw.n)
	}
}

// countingWriter counts what was written, to know whether an error can
// still be answered with a status.
type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// auditExportPage is GET /audit/export, the console's export link.
func (s *Server) auditExportPage(w http.ResponseWriter, r *http.Request) {
	s.auditExport(w, r, s.pageError)
}
