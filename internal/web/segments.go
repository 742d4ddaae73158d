package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/text/width"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/segment/index"
)

// sampleSize is how many customers a segment's sample shows.
const sampleSize = 10

// Counting answers from the bitmap index once it is built and current;
// until then (a node that just started, or one whose index fell behind) the
// reference SQL answers the same question, slower, and the page says so.

// segmentIndex returns the index when it can answer, else nil.
func (s *Server) segmentIndex() *index.Index {
	if s.SegmentIndex == nil {
		return nil
	}
	if ix := s.SegmentIndex(); ix != nil && ix.Ready() {
		return ix
	}
	return nil
}

// segmentAnswer is a parsed, checked expression with its count.
type segmentAnswer struct {
	Expr      segment.Expr
	Canonical string
	Count     uint64
	ByIndex   bool // false: counted by the database while the index builds
}

// parseSegment parses and checks text against the names that exist. The
// error is a *segment.Error (with its column) or an EINVALID for an
// unknown name with the closest suggestion.
func (s *Server) parseSegment(ctx context.Context, text string) (segment.Expr, error) {
	e, err := segment.Parse(text)
	if err != nil {
		return nil, err
	}
	var cat segment.Catalog
	if ix := s.segmentIndex(); ix != nil {
		cat = ix
	} else if cat, err = segment.LoadCatalog(ctx, s.DB.R, e); err != nil {
		return nil, err
	}
	if err := segment.Check(e, cat); err != nil {
		return nil, err
	}
	return e, nil
}

// countSegment parses, checks and counts text.
func (s *Server) countSegment(ctx context.Context, text string) (*segmentAnswer, error) {
	e, err := s.parseSegment(ctx, text)
	if err != nil {
		return nil, err
	}
	a := &segmentAnswer{Expr: e, Canonical: segment.String(e)}
	if ix := s.segmentIndex(); ix != nil {
		a.Count, err = ix.Count(ctx, e)
		a.ByIndex = true
		return a, err
	}
	a.Count, err = segment.CountSQL(ctx, s.DB.R, s.DB.Dialect, e, segment.SQLOptions{Location: s.Location, Now: s.Clock.Now()})
	return a, err
}

// sampleSegment returns the first customers of e in id order.
func (s *Server) sampleSegment(ctx context.Context, e segment.Expr, n int) ([]customer.Row, error) {
	var ids []int64
	if ix := s.segmentIndex(); ix != nil {
		page, err := ix.Page(ctx, e, 0, n)
		if err != nil {
			return nil, err
		}
		for _, id := range page {
			ids = append(ids, int64(id))
		}
	} else {
		q, args, err := segment.SQL(s.DB.Dialect, e, segment.SQLOptions{Location: s.Location, Now: s.Clock.Now()})
		if err != nil {
			return nil, err
		}
		rows, err := s.DB.R.QueryContext(ctx, q+fmt.Sprintf(" LIMIT %d", n), args...)
		if err != nil {
			return nil, fmt.Errorf("web: sample segment: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("web: sample segment: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("web: sample segment: %w", err)
		}
	}
	return s.Customers.ByIDs(ctx, ids)
}

// previewData is the live part of the builder: the count, the canonical
// form, or the mistake with a caret under its column.
type previewData struct {
	Text    string
	Answer  *segmentAnswer
	Problem string
	Col     int // 1-based column of the mistake, 0 when none
	// Line is the line of the text the mistake is on and Pad the blank
	// before its column, so a caret can stand under it.
	Line, Pad string
	Count     int // Answer.Count for the template
	Sample    []customer.Row
	Explain   string
}

// preview parses, checks and counts the expression; a mistake is shown,
// not raised.
func (s *Server) preview(r *http.Request, text string) (*previewData, error) {
	d := &previewData{Text: text}
	if strings.TrimSpace(text) == "" {
		return d, nil
	}
	a, err := s.countSegment(r.Context(), text)
	if err != nil {
		var se *segment.Error
		switch {
		case errors.As(err, &se):
			d.Problem, d.Col = se.Msg, se.Pos.Col
			d.Line, d.Pad = caretLine(text, se.Pos.Offset)
		case kith.ErrorCode(err) == kith.EINVALID:
			d.Problem = kith.ErrorMessage(err)
		default:
			return nil, err
		}
		return d, nil
	}
	d.Answer, d.Explain, d.Count = a, segment.Explain(a.Expr), int(a.Count)
	return d, nil
}

// caretLine returns the line of text holding byte off and the blank that
// puts a caret under off: an ideographic space under each wide character,
// so the caret lines up in a monospace font.
func caretLine(text string, off int) (line, pad string) {
	off = min(max(off, 0), len(text))
	start := strings.LastIndexByte(text[:off], '\n') + 1
	end := strings.IndexByte(text[off:], '\n')
	if end < 0 {
		end = len(text)
	} else {
		end += off
	}
	var b strings.Builder
	for _, r := range text[start:off] {
		if r == '\t' {
			b.WriteRune('\t')
		} else if width.LookupRune(r).Kind() == width.EastAsianWide || width.LookupRune(r).Kind() == width.EastAsianFullwidth {
			b.WriteRune('\u3000')
		} else {
			b.WriteByte(' ')
		}
	}
	return text[start:end], b.String()
}

// builderData is the segments page: the builder and the saved segments.
type builderData struct {
	Preview   *previewData
	Saved     []segment.Saved
	Terms     []termGroup
	CanManage bool
	Name      string
	Desc      string
	Problem   *problem
	// IndexReady says the bitmap index answers; IndexCustomers is how many
	// customers it holds.
	IndexReady     bool
	IndexCustomers int
}

// termGroup is a row of clickable terms.
type termGroup struct {
	Key   string // i18n key of the row's title
	Terms []termChip
}

type termChip struct{ Label, Term string }

// maxChips bounds each row of terms shown.
const maxChips = 40

// termGroups lists terms an operator can click instead of typing.
func (s *Server) termGroups(ctx context.Context) ([]termGroup, error) {
	groups, err := s.Customers.TagGroups(ctx)
	if err != nil {
		return nil, err
	}
	members, err := s.Customers.Members(ctx)
	if err != nil {
		return nil, err
	}
	var tags, tagGroups, mems []termChip
	for _, g := range groups {
		tagGroups = append(tagGroups, termChip{g.Name, "group:" + segment.QuoteName(g.Name)})
		for _, t := range g.Tags {
			tags = append(tags, termChip{t.Name, "tag:" + segment.QuoteName(t.Name)})
		}
	}
	for _, m := range members {
		label := m.UserID
		if m.Name != "" {
			label = m.Name
		}
		mems = append(mems, termChip{label, "member:" + segment.QuoteName(m.UserID)})
	}
	var channels, categories, skus []termChip
	if ix := s.segmentIndex(); ix != nil {
		for _, c := range ix.Names(segment.FieldChannel) {
			channels = append(channels, termChip{c, "channel:" + segment.QuoteName(c)})
		}
		for _, c := range ix.Names(segment.FieldCategory) {
			categories = append(categories, termChip{c, "category:" + segment.QuoteName(c)})
		}
		for _, c := range ix.Names(segment.FieldSKU) {
			skus = append(skus, termChip{c, "sku:" + segment.QuoteName(c)})
		}
	}
	reach := []termChip{{"WeCom", "reachable:wecom"}, {"SMS", "reachable:sms"}, {"e-mail", "reachable:email"}}
	facts := []termChip{{"orders ≥ 2", "orders >= 2"}, {"spent_90d ≥ 500", "spent_90d >= 500"}, {"spent_total ≥ 1000", "spent_total >= 1000"},
		{"aov ≥ 200", "aov >= 200"}, {"refunds ≥ 1", "refunds >= 1"}, {"refunded ≥ 50", "refunded >= 50"},
		{"rfm:555", "rfm:555"}, {"rfm_r ≥ 4", "rfm_r >= 4"}, {"rfm_f ≥ 4", "rfm_f >= 4"}, {"rfm_m ≥ 4", "rfm_m >= 4"}}
	out := []termGroup{}
	for _, g := range []termGroup{{"segments.terms.tags", tags}, {"segments.terms.groups", tagGroups}, {"segments.terms.members", mems},
		{"segments.terms.channels", channels}, {"segments.terms.reachable", reach}, {"segments.terms.facts", facts},
		{"segments.terms.categories", categories}, {"segments.terms.skus", skus}} {
		if len(g.Terms) > maxChips {
			g.Terms = g.Terms[:maxChips]
		}
		if len(g.Terms) > 0 {
			out = append(out, g)
		}
	}
	return out, nil
}

// segmentsPage shows the builder; ?expr= fills it, &add= appends a term
// (the clickable terms send it) joined with and.
func (s *Server) segmentsPage(w http.ResponseWriter, r *http.Request) {
	text, err := builderText(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.renderBuilder(w, r, http.StatusOK, &builderData{Preview: &previewData{Text: text}})
}

// builderText is the expression of a builder request, with an added term.
func builderText(r *http.Request) (string, error) {
	text, add := r.FormValue("expr"), strings.TrimSpace(r.FormValue("add"))
	if len(text)+len(add) > segment.MaxLen+16 {
		return "", kith.Errorf(kith.EINVALID, "The expression is longer than %d bytes.", segment.MaxLen)
	}
	if add != "" {
		if strings.TrimSpace(text) == "" {
			text = add
		} else {
			text = strings.TrimRight(text, " \n") + " and " + add
		}
	}
	return text, nil
}

func (s *Server) renderBuilder(w http.ResponseWriter, r *http.Request, status int, d *builderData) {
	ctx := r.Context()
	var err error
	if d.Preview, err = s.preview(r, d.Preview.Text); err != nil {
		s.pageError(w, r, err)
		return
	}
	d.CanManage = principal(r).Can(auth.PermManageSegments)
	if isFragment(r, "segment-builder") {
		s.render(w, r, status, "segment-builder", d)
		return
	}
	if d.Saved, err = s.Segments.List(ctx); err != nil {
		s.pageError(w, r, err)
		return
	}
	if d.Terms, err = s.termGroups(ctx); err != nil {
		s.pageError(w, r, err)
		return
	}
	if ix := s.segmentIndex(); ix != nil {
		d.IndexReady, d.IndexCustomers = true, int(ix.Stats().Customers)
	}
	s.render(w, r, status, "segments", d)
}

// segmentPreview answers the builder while the operator types (htmx): the
// count and canonical form, or the mistake.
func (s *Server) segmentPreview(w http.ResponseWriter, r *http.Request) {
	text, err := builderText(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d, err := s.preview(r, text)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "segment-preview", d)
}

// segmentSample shows the first customers of an expression. Names are
// personal data: the view is recorded, with the expression.
func (s *Server) segmentSample(w http.ResponseWriter, r *http.Request) {
	text, err := builderText(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d, err := s.preview(r, text)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if d.Answer != nil {
		if d.Sample, err = s.sampleSegment(r.Context(), d.Answer.Expr, sampleSize); err != nil {
			s.pageError(w, r, err)
			return
		}
		if err := s.auditEvent(r.Context(), r, audit.ActionPIIRead, "segment", "", "", map[string]any{"view": "sample", "expression": d.Answer.Canonical, "count": len(d.Sample)}); err != nil {
			s.pageError(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "segment-preview", d)
}
