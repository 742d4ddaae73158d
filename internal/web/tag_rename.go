package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/kith-scrm/kith/internal/kith"
)

// tagRename renames a tag or a group (the id says which), in WeCom first and
// then locally.
func (s *Server) tagRename(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	groups, err := s.Customers.TagGroups(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	g, t := findTag(groups, id)
	if g == nil {
		s.pageError(w, r, kith.Errorf(kith.ENOTFOUND, "No tag or tag group has the id %q; it may have been deleted.", clip(id, 64)))
		return
	}
	current := g.Name
	if t != nil {
		current = t.Name
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	back := "/tags?done=renamed#group-" + url.PathEscape(g.GroupID)
	if name == current {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	d := &tagsData{Where: id, Name: name, Problem: tagNameProblem(r, name)}
	if d.Problem == nil {
		var answered bool
		d.Problem, answered = s.writeThrough(w, r, func() error { return s.Syncer.RenameTag(ctx, id, name) })
		if answered {
			return
		}
	}
	if d.Problem != nil {
		s.renderTags(w, r, d)
		return
	}
	s.Log.Info("corp tag renamed", "by", principal(r).String(), "id", id)
	http.Redirect(w, r, back, http.StatusSeeOther)
}
