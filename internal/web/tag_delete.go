package web

import (
	"net/http"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
)

// tagDeleteData is the page that asks before a tag or group is deleted.
type tagDeleteData struct {
	Group   *customer.TagGroup
	Tag     *customer.Tag // nil when the whole group goes
	Problem *problem
}

// tagTarget finds the group or tag the route's id names, or answers 404.
func (s *Server) tagTarget(w http.ResponseWriter, r *http.Request) *tagDeleteData {
	groups, err := s.Customers.TagGroups(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return nil
	}
	id := r.PathValue("id")
	g, t := findTag(groups, id)
	if g == nil {
		s.pageError(w, r, kith.Errorf(kith.ENOTFOUND, "No tag or tag group has the id %q; it may have been deleted.", clip(id, 64)))
		return nil
	}
	return &tagDeleteData{Group: g, Tag: t}
}

// tagDeleteAsk shows what will be deleted and asks to confirm.
func (s *Server) tagDeleteAsk(w http.ResponseWriter, r *http.Request) {
	if d := s.tagTarget(w, r); d != nil {
		s.render(w, r, http.StatusOK, "tag-delete", d)
	}
}

// tagDelete deletes a tag or a whole group, in WeCom first and then
// locally; the tags come off every customer.
func (s *Server) tagDelete(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	d := s.tagTarget(w, r)
	if d == nil {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		// Only the confirmation page's button says yes.
		d.Problem = invalid(r, "tags.error.confirm")
		s.render(w, r, d.Problem.Status, "tag-delete", d)
		return
	}
	var tagIDs, groupIDs []string
	if d.Tag != nil {
		tagIDs = []string{d.Tag.TagID}
	} else {
		groupIDs = []string{d.Group.GroupID}
	}
	var answered bool
	d.Problem, answered = s.writeThrough(w, r, func() error { return s.Syncer.DeleteTags(r.Context(), tagIDs, groupIDs) })
	if answered {
		return
	}
	if d.Problem != nil {
		s.render(w, r, d.Problem.Status, "tag-delete", d)
		return
	}
	s.Log.Info("corp tags deleted", "by", principal(r).String(), "tags", tagIDs, "groups", groupIDs)
	http.Redirect(w, r, "/tags?done=deleted", http.StatusSeeOther)
}
