package web

import (
	"errors"
	"net/http"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/kith"
)

type passwordData struct {
	Error string // a translation key, or a message when no key fits
	Done  bool
}

var passwordErrorKeys = map[error]string{
	auth.ErrPasswordTooShort:  "password.error.short",
	auth.ErrPasswordTooLong:   "password.error.long",
	auth.ErrPasswordIsName:    "password.error.isname",
	auth.ErrPasswordUnchanged: "password.error.unchanged",
	auth.ErrPasswordWrong:     "password.error.wrong",
}

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "password", passwordData{Done: r.URL.Query().Get("done") == "1"})
}

func (s *Server) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		s.pageError(w, r, kith.Errorf(kith.EINVALID, "The form cannot be read."))
		return
	}
	next, again := r.PostFormValue("new"), r.PostFormValue("confirm")
	if next != again {
		s.render(w, r, http.StatusBadRequest, "password", passwordData{Error: "password.error.mismatch"})
		return
	}
	err := s.Auth.ChangePassword(r.Context(), principal(r), r.PostFormValue("current"), next)
	if err != nil {
		for target, key := range passwordErrorKeys {
			if errors.Is(err, target) {
				s.render(w, r, http.StatusBadRequest, "password", passwordData{Error: key})
				return
			}
		}
		s.pageError(w, r, err)
		return
	}
	s.Log.Info("password changed", "user", principal(r).Name)
	http.Redirect(w, r, "/account/password?done=1", http.StatusSeeOther)
}
