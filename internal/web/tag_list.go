package web

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/customer"
)

// maxTagName is WeCom's limit on a tag or group name, in characters
// (path/96320).
const maxTagName = 30

// tagsData is the tags page.
type tagsData struct {
	Groups       []customer.TagGroup
	CanManage    bool
	Configured   bool
	CanConfigure bool
	Done         string // created, renamed or deleted after a change
	// Problem is the error of the last form, shown at Where: "create", or
	// the id of the group or tag the form was about. The form's input is
	// kept in GroupName, Names and Name.
	Problem   *problem
	Where     string
	GroupName string
	Names     string
	Name      string
}

func (s *Server) tagList(w http.ResponseWriter, r *http.Request) {
	d := &tagsData{}
	switch done := r.URL.Query().Get("done"); done {
	case "created", "renamed", "deleted":
		d.Done = done
	}
	s.renderTags(w, r, d)
}

// renderTags loads the groups and renders the page, with d's problem if a
// form was refused.
func (s *Server) renderTags(w http.ResponseWriter, r *http.Request, d *tagsData) {
	ctx := r.Context()
	p := principal(r)
	var err error
	if d.Groups, err = s.Customers.TagGroups(ctx); err != nil {
		s.pageError(w, r, err)
		return
	}
	d.CanManage, d.CanConfigure = p.Can(auth.PermManageTags), p.Can(auth.PermManageConfig)
	if d.CanManage {
		if d.Configured, err = s.wecomReady(ctx); err != nil {
			s.pageError(w, r, err)
			return
		}
	}
	status := http.StatusOK
	if d.Problem != nil {
		status = d.Problem.Status
	}
	s.render(w, r, status, "tags", d)
}

// findTag finds a group or a tag by id among groups.
func findTag(groups []customer.TagGroup, id string) (*customer.TagGroup, *customer.Tag) {
	for i := range groups {
		g := &groups[i]
		if g.GroupID == id {
			return g, nil
		}
		for j := range g.Tags {
			if g.Tags[j].TagID == id {
				return g, &g.Tags[j]
			}
		}
	}
	return nil, nil
}

// tagNameProblem checks a tag or group name, giving nil when it is fine.
func tagNameProblem(r *http.Request, name string) *problem {
	if n := utf8.RuneCountInString(name); n == 0 || n > maxTagName || strings.TrimSpace(name) != name {
		return invalid(r, "tags.error.name", clip(name, 40), maxTagName)
	}
	return nil
}
