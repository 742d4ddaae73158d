package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kith-scrm/kith/internal/customer"
)

// splitNames splits the names typed into the tags field: one a line, or
// separated by commas (also the Chinese ones).
func splitNames(s string) []string {
	var out []string
	for _, n := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == '，' || r == '、' }) {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// tagCreate creates tags in an existing group (group_id) or in a new group
// (group_name), in WeCom first and then locally.
func (s *Server) tagCreate(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	ctx := r.Context()
	groupID := strings.TrimSpace(r.PostFormValue("group_id"))
	d := &tagsData{Where: "create", GroupName: strings.TrimSpace(r.PostFormValue("group_name")), Names: r.PostFormValue("names")}
	groups, err := s.Customers.TagGroups(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	var group *customer.TagGroup
	if groupID != "" {
		d.Where = groupID
		if group, _ = findTag(groups, groupID); group == nil || group.GroupID != groupID {
			// Gone since the page was shown: say so at the top form.
			d.Where, d.Problem = "create", invalid(r, "tags.error.nogroup")
		}
	} else {
		d.Problem = tagNameProblem(r, d.GroupName)
	}
	names := splitNames(d.Names)
	if d.Problem == nil && len(names) == 0 {
		d.Problem = invalid(r, "tags.error.nonames")
	}
	for i, n := range names {
		if d.Problem != nil {
			break
		}
		d.Problem = tagNameProblem(r, n)
		if d.Problem == nil && slices.Contains(names[:i], n) {
			d.Problem = invalid(r, "tags.error.twice", n)
		}
		if d.Problem == nil && group != nil && slices.ContainsFunc(group.Tags, func(t customer.Tag) bool { return t.Name == n }) {
			d.Problem = invalid(r, "tags.error.exists", n, group.Name)
		}
	}
	var created *customer.TagGroup
	if d.Problem == nil {
		var answered bool
		d.Problem, answered = s.writeThrough(w, r, func() (err error) {
			created, err = s.Syncer.CreateTags(ctx, groupID, d.GroupName, names)
			return err
		})
		if answered {
			return
		}
	}
	if d.Problem != nil {
		s.renderTags(w, r, d)
		return
	}
	s.Log.Info("corp tags created", "by", principal(r).String(), "group", created.GroupID, "tags", len(names))
	http.Redirect(w, r, "/tags?done=created#group-"+url.PathEscape(created.GroupID), http.StatusSeeOther)
}
