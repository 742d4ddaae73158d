package web

import (
	"net/http"
	"strconv"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
)

// segmentCreate saves the builder's expression under a name. A mistake
// (a bad expression, a name taken) shows the builder again with what was
// typed and the sentence.
func (s *Server) segmentCreate(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	in := segment.Input{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), Expression: r.PostFormValue("expr")}
	saved, err := s.Segments.Create(r.Context(), principal(r).ID, in)
	if err != nil {
		d := &builderData{Preview: &previewData{Text: in.Expression}, Name: in.Name, Desc: in.Description}
		if d.Problem = s.problemOf(r, err); d.Problem == nil {
			s.pageError(w, r, err)
			return
		}
		s.renderBuilder(w, r, d.Problem.Status, d)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionSegmentChange, "segment", idString(saved.ID), "",
		map[string]any{"change": "create", "name": saved.Name, "expression": saved.Expression}); err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/segments/"+idString(saved.ID)+"?done=saved", http.StatusSeeOther)
}

// segmentData is a saved segment's page.
type segmentData struct {
	Segment   segment.Saved
	Preview   *previewData
	CanManage bool
	Done      string
	Problem   *problem
	// Typed holds the edit form's values after a refusal.
	Name, Desc, Expr string
}

// segmentShow shows a saved segment: its expression, its count now, what
// it means, and the forms to change or delete it.
func (s *Server) segmentShow(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, err := s.Segments.Get(r.Context(), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := &segmentData{Segment: v, Done: r.URL.Query().Get("done"), Name: v.Name, Desc: v.Description, Expr: v.Expression}
	s.renderSegment(w, r, http.StatusOK, d)
}

func (s *Server) renderSegment(w http.ResponseWriter, r *http.Request, status int, d *segmentData) {
	var err error
	if d.Preview, err = s.preview(r, d.Segment.Expression); err != nil {
		s.pageError(w, r, err)
		return
	}
	d.CanManage = principal(r).Can(auth.PermManageSegments)
	s.render(w, r, status, "segment", d)
}

// segmentUpdate changes a saved segment's name, description or expression.
func (s *Server) segmentUpdate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		err = parseForm(w, r)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	in := segment.Input{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), Expression: r.PostFormValue("expr")}
	saved, err := s.Segments.Update(r.Context(), id, in)
	if err != nil {
		old, gerr := s.Segments.Get(r.Context(), id)
		if gerr != nil {
			s.pageError(w, r, gerr)
			return
		}
		d := &segmentData{Segment: old, Name: in.Name, Desc: in.Description, Expr: in.Expression}
		if d.Problem = s.problemOf(r, err); d.Problem == nil {
			s.pageError(w, r, err)
			return
		}
		s.renderSegment(w, r, d.Problem.Status, d)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionSegmentChange, "segment", idString(saved.ID), "",
		map[string]any{"change": "update", "name": saved.Name, "expression": saved.Expression}); err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/segments/"+strconv.FormatInt(saved.ID, 10)+"?done=updated", http.StatusSeeOther)
}

// segmentDelete deletes a saved segment (snapshots taken from it stay).
func (s *Server) segmentDelete(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		s.pageError(w, r, kith.Errorf(kith.EINVALID, "Tick the box to confirm the deletion; nothing was deleted."))
		return
	}
	v, err := s.Segments.Get(r.Context(), id)
	if err == nil {
		err = s.Segments.Delete(r.Context(), id)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.auditEvent(r.Context(), r, audit.ActionSegmentChange, "segment", idString(id), "",
		map[string]any{"change": "delete", "name": v.Name, "expression": v.Expression}); err != nil {
		s.pageError(w, r, err)
		return
	}
	http.Redirect(w, r, "/segments?done=deleted", http.StatusSeeOther)
}
