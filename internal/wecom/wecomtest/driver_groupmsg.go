package wecomtest

import (
	"fmt"
	"net/http"
)

// serveGroupMsgs is GET /sandbox/groupmsgs: the group-message tasks.
func (s *Sandbox) serveGroupMsgs(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"groupmsgs": s.GroupMsgs()})
}

// serveConfirmGroupMsgs is POST /sandbox/groupmsgs/confirm: the member of
// task msgid taps send, or, without msgid, every member confirms every
// task still waiting.
func (s *Sandbox) serveConfirmGroupMsgs(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	n := 0
	for _, m := range s.GroupMsgs() {
		if id := r.FormValue("msgid"); (id != "" && id != m.MsgID) || m.Confirmed || m.Cancelled {
			continue
		}
		if err := s.MemberConfirmsGroupMsg(m.Creator, m.MsgID); err != nil {
			s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
			return
		}
		n++
	}
	s.answer(w, r, map[string]any{"confirmed": n}, nil)
}
