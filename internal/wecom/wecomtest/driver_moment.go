package wecomtest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
)

// SetMomentJobPolls makes every new add_moment_task job answer "running"
// to its first n get_moment_task_result calls before it is done.
func (s *Sandbox) SetMomentJobPolls(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moState().jobPolls = max(0, n)
}

// MemberPublishesMoment is the member tapping "publish" on a moment task in
// the WeCom client. The post is seen by the member's customers who carry
// one of the moment's tags on their relation with the member at that moment.
func (s *Sandbox) MemberPublishesMoment(userID, momentID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.moState().moments[momentID]
	switch {
	case m == nil:
		return fmt.Errorf("wecomtest: no moment %q", momentID)
	case !slices.Contains(m.Senders, userID):
		return fmt.Errorf("wecomtest: %s is not a sender of moment %s", userID, momentID)
	case m.Cancelled:
		return fmt.Errorf("wecomtest: moment %s was cancelled", momentID)
	}
	if _, ok := m.Published[userID]; ok {
		return fmt.Errorf("wecomtest: %s published moment %s already", userID, momentID)
	}
	m.Published[userID] = s.now().Unix()
	seen := []string{}
	for _, r := range s.st.byMember[userID] {
		if !s.st.visible(r) || r.DeletedByCustomer || r.Half {
			continue
		}
		if slices.ContainsFunc(m.Tags, func(t string) bool { return slices.Contains(r.TagIDs, t) }) {
			seen = append(seen, r.ExternalUserID)
		}
	}
	m.Seen[userID] = seen
	return nil
}

// CustomerLikesMoment is a customer liking a member's post of a moment in
// WeChat. Only the sandbox does this, for tests: Kith never likes or
// comments, and WeCom has no API for it.
func (s *Sandbox) CustomerLikesMoment(momentID, userID, externalUserID string) error {
	return s.interact(momentID, userID, externalUserID, func(m *Moment) map[string][]string { return m.Likes })
}

// CustomerCommentsMoment is a customer commenting on a member's post of a
// moment in WeChat (the sandbox only; see CustomerLikesMoment).
func (s *Sandbox) CustomerCommentsMoment(momentID, userID, externalUserID string) error {
	return s.interact(momentID, userID, externalUserID, func(m *Moment) map[string][]string { return m.Comments })
}

func (s *Sandbox) interact(momentID, userID, ext string, list func(*Moment) map[string][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.moState().moments[momentID]
	if m == nil {
		return fmt.Errorf("wecomtest: no moment %q", momentID)
	}
	if !slices.Contains(m.Seen[userID], ext) {
		return fmt.Errorf("wecomtest: customer %s cannot see %s's post of moment %s", ext, userID, momentID)
	}
	l := list(m)
	l[userID] = append(l[userID], ext)
	return nil
}

// Moments returns copies of the moments, oldest first.
func (s *Sandbox) Moments() []Moment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Moment
	for _, id := range s.moState().order {
		m := *s.mo.moments[id]
		m.Senders, m.Tags = slices.Clone(m.Senders), slices.Clone(m.Tags)
		m.Published = maps.Clone(m.Published)
		m.Seen, m.Likes, m.Comments = cloneLists(m.Seen), cloneLists(m.Likes), cloneLists(m.Comments)
		out = append(out, m)
	}
	return out
}

func cloneLists(in map[string][]string) map[string][]string {
	out := make(map[string][]string, len(in))
	for k, v := range in {
		out[k] = slices.Clone(v)
	}
	return out
}

// serveMoments is GET /sandbox/moments.
func (s *Sandbox) serveMoments(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"moments": s.Moments()})
}

// servePublishMoments is POST /sandbox/moments/publish: every sender of
// moment moment_id (or of every moment still waiting) publishes it.
func (s *Sandbox) servePublishMoments(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	n := 0
	for _, m := range s.Moments() {
		if id := r.FormValue("moment_id"); (id != "" && id != m.MomentID) || m.Cancelled {
			continue
		}
		for _, u := range m.Senders {
			if _, ok := m.Published[u]; ok {
				continue
			}
			if err := s.MemberPublishesMoment(u, m.MomentID); err != nil {
				s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
				return
			}
			n++
		}
	}
	s.answer(w, r, map[string]any{"published": n}, nil)
}

// serveInteractMoment is POST /sandbox/moments/{kind} (like or comment):
// customer external_userid likes or comments on member userid's post of
// moment moment_id, in WeChat. Kith has no such call; only the sandbox's
// driver does this, for tests and demonstrations.
func (s *Sandbox) serveInteractMoment(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	do := s.CustomerLikesMoment
	if r.PathValue("kind") == "comment" {
		do = s.CustomerCommentsMoment
	} else if r.PathValue("kind") != "like" {
		s.answer(w, r, nil, fmt.Errorf("%w: %q is neither like nor comment", ErrInvalid, r.PathValue("kind")))
		return
	}
	if err := do(r.FormValue("moment_id"), r.FormValue("userid"), r.FormValue("external_userid")); err != nil {
		s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	s.answer(w, r, map[string]any{"ok": true}, nil)
}
