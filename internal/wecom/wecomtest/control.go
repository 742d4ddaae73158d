package wecomtest

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

//go:embed control.html
var controlFS embed.FS

var controlPage = template.Must(template.ParseFS(controlFS, "control.html"))

// controlHandler serves the sandbox's own API and page under /sandbox/,
// apart from WeCom's /cgi-bin/ namespace:
//
//	GET  /sandbox/                      the page, with forms for every event
//	GET  /sandbox/state                 Summary as JSON
//	GET  /sandbox/deliveries            the delivery log as JSON
//	POST /sandbox/events/{kind}         make something happen (JSON or form)
//	POST /sandbox/delivery/{pause,resume,redeliver,verify}
//	POST /sandbox/faults                {"api":"/cgi-bin/...","errcode":-1,"count":3}
//	POST /sandbox/seed                  {"seed":1,"customers":5000}
//	GET  /sandbox/groupmsgs             the group-message tasks
//	POST /sandbox/groupmsgs/confirm     msgid (empty: every waiting task) — the member taps send
//	GET  /sandbox/moments               the moments, with who published and who can see them
//	POST /sandbox/moments/publish       moment_id (empty: every waiting one) — every sender publishes
//	POST /sandbox/moments/like|comment  moment_id, userid, external_userid — a customer likes or comments
//
// POSTs from another origin are refused (http.CrossOriginProtection).
func (s *Sandbox) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sandbox/{$}", s.servePage)
	mux.HandleFunc("GET /sandbox/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Summary())
	})
	mux.HandleFunc("GET /sandbox/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"deliveries": s.Deliveries()})
	})
	mux.HandleFunc("POST /sandbox/events/{kind}", s.serveEvent)
	mux.HandleFunc("POST /sandbox/delivery/{action}", s.serveDelivery)
	mux.HandleFunc("POST /sandbox/faults", s.serveFault)
	mux.HandleFunc("POST /sandbox/seed", s.serveSeed)
	mux.HandleFunc("POST /sandbox/scan", s.serveScan)          // driver_acquisition.go
	mux.HandleFunc("GET /sandbox/groupmsgs", s.serveGroupMsgs) // driver_groupmsg.go
	mux.HandleFunc("POST /sandbox/groupmsgs/confirm", s.serveConfirmGroupMsgs)
	mux.HandleFunc("GET /sandbox/moments", s.serveMoments) // driver_moment.go
	mux.HandleFunc("POST /sandbox/moments/publish", s.servePublishMoments)
	mux.HandleFunc("POST /sandbox/moments/{kind}", s.serveInteractMoment)
	return http.NewCrossOriginProtection().Handler(mux)
}

// controlForm is the input of the control API, from JSON or a form. Numbers
// and lists may be given as strings ("1", "a,b").
type controlForm struct {
	UserID         string   `json:"userid"`
	ExternalUserID string   `json:"external_userid"`
	Name           string   `json:"name"`
	State          string   `json:"state"`
	AddWay         flexInt  `json:"add_way"`
	Type           flexInt  `json:"type"`
	Gender         flexInt  `json:"gender"`
	CorpName       string   `json:"corp_name"`
	NoWelcomeCode  flexBool `json:"no_welcome_code"`
	Remark         *string  `json:"remark"`
	Description    *string  `json:"description"`
	AddTag         flexList `json:"add_tag"`
	RemoveTag      flexList `json:"remove_tag"`
	FailReason     string   `json:"fail_reason"`
	GroupName      string   `json:"group_name"`
	TagName        string   `json:"tag_name"`
	ID             string   `json:"id"`
	GroupID        string   `json:"group_id"`
	ChatID         string   `json:"chat_id"`
	ChangeType     string   `json:"change_type"`
	UpdateDetail   string   `json:"update_detail"`
	JoinScene      flexInt  `json:"join_scene"`
	QuitScene      flexInt  `json:"quit_scene"`
	MemChangeList  flexList `json:"mem_change_list"`
	API            string   `json:"api"`
	ErrCode        flexInt  `json:"errcode"`
	Count          flexInt  `json:"count"`
	Seed           flexInt  `json:"seed"`
	Customers      flexInt  `json:"customers"`
}

type flexInt int

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not a number: %s", s)
	}
	*n = flexInt(v)
	return nil
}

type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	*f = flexBool(s == "true" || s == "on" || s == "1")
	return nil
}

type flexList []string

func (l *flexList) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*l = list
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("not a list of strings")
	}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
		*l = append(*l, part)
	}
	return nil
}

// isForm tells a form post from the page, which gets a redirect back,
// from an API call, which gets JSON.
func isForm(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data")
}

func readForm(r *http.Request) (controlForm, error) {
	var f controlForm
	if isForm(r) {
		if err := r.ParseForm(); err != nil {
			return f, err
		}
		// Empty fields are "not given", so the JSON path handles both.
		m := map[string]string{}
		for k, v := range r.PostForm {
			if len(v) > 0 && v[0] != "" {
				m[k] = v[0]
			}
		}
		b, _ := json.Marshal(m) // a map of strings always marshals
		return f, json.Unmarshal(b, &f)
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxRequestBody))
	if err != nil {
		return f, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return f, nil
	}
	return f, json.Unmarshal(b, &f)
}

// eventKinds are the {kind} values of POST /sandbox/events/{kind}.
var eventKinds = []string{
	ChangeAddExternalContact, ChangeAddHalfExternalContact, ChangeEditExternalContact, ChangeDelExternalContact,
	ChangeDelFollowUser, ChangeTransferFail, ChangeDeleteUser, "tag_create", "tag_update", "tag_delete",
	"tag_shuffle", EventChangeExternalChat,
}

func (s *Sandbox) runEvent(ctx context.Context, kind string, f controlForm) (Delivery, error) {
	switch kind {
	case ChangeAddExternalContact, ChangeAddHalfExternalContact:
		return s.CustomerAddsMember(ctx, AddContact{
			UserID: f.UserID, ExternalUserID: f.ExternalUserID, Name: f.Name, Type: int(f.Type), Gender: int(f.Gender),
			CorpName: f.CorpName, State: f.State, AddWay: int(f.AddWay), Half: kind == ChangeAddHalfExternalContact,
			NoWelcomeCode: bool(f.NoWelcomeCode),
		})
	case ChangeEditExternalContact:
		return s.MemberEditsContact(ctx, EditContact{UserID: f.UserID, ExternalUserID: f.ExternalUserID,
			Remark: f.Remark, Description: f.Description, AddTags: f.AddTag, RemoveTags: f.RemoveTag})
	case ChangeDelExternalContact:
		return s.MemberDeletesCustomer(ctx, f.UserID, f.ExternalUserID)
	case ChangeDelFollowUser:
		return s.CustomerDeletesMember(ctx, f.UserID, f.ExternalUserID)
	case ChangeTransferFail:
		return s.TransferFails(ctx, f.UserID, f.ExternalUserID, f.FailReason)
	case ChangeDeleteUser:
		return s.MemberLeaves(ctx, f.UserID)
	case "tag_create":
		return s.AdminCreatesTag(ctx, f.GroupName, f.TagName)
	case "tag_update":
		return s.AdminRenamesTag(ctx, f.ID, f.Name)
	case "tag_delete":
		return s.AdminDeletesTag(ctx, f.ID)
	case "tag_shuffle":
		return s.AdminShufflesTags(ctx, f.GroupID)
	case EventChangeExternalChat:
		return s.ExternalChatChanges(ctx, ChatChange{ChatID: f.ChatID, ChangeType: f.ChangeType,
			UpdateDetail: f.UpdateDetail, JoinScene: int(f.JoinScene), QuitScene: int(f.QuitScene),
			MemChangeList: f.MemChangeList})
	}
	return Delivery{}, fmt.Errorf("%w: unknown event kind %q; known: %s", ErrNotFound, kind, strings.Join(eventKinds, ", "))
}

func (s *Sandbox) serveEvent(w http.ResponseWriter, r *http.Request) {
	f, err := readForm(r)
	if err != nil {
		s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	d, err := s.runEvent(r.Context(), r.PathValue("kind"), f)
	if err != nil {
		s.answer(w, r, nil, err)
		return
	}
	s.answer(w, r, map[string]any{"delivery": d, "xml": string(d.Event.XML())}, nil)
}

func (s *Sandbox) serveDelivery(w http.ResponseWriter, r *http.Request) {
	switch r.PathValue("action") {
	case "pause":
		s.PauseDelivery()
		s.answer(w, r, map[string]any{"paused": true}, nil)
	case "resume":
		s.answer(w, r, map[string]any{"deliveries": s.ResumeDelivery(r.Context())}, nil)
	case "redeliver":
		s.answer(w, r, map[string]any{"deliveries": s.RedeliverFailed(r.Context())}, nil)
	case "verify":
		if err := s.VerifyCallbackURL(r.Context()); err != nil {
			s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
			return
		}
		s.answer(w, r, map[string]any{"verified": true}, nil)
	default:
		s.answer(w, r, nil, fmt.Errorf("%w: action must be pause, resume, redeliver or verify", ErrNotFound))
	}
}

func (s *Sandbox) serveFault(w http.ResponseWriter, r *http.Request) {
	f, err := readForm(r)
	if err == nil {
		err = s.InjectFault(f.API, int(f.ErrCode), int(f.Count))
	}
	if err != nil {
		s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	s.answer(w, r, map[string]any{"api": f.API, "errcode": f.ErrCode, "count": f.Count}, nil)
}

func (s *Sandbox) serveSeed(w http.ResponseWriter, r *http.Request) {
	f, err := readForm(r)
	if err == nil {
		err = s.Seed(int64(f.Seed), SeedOptions{Customers: int(f.Customers)})
	}
	if err != nil {
		s.answer(w, r, nil, fmt.Errorf("%w: %v", ErrInvalid, err))
		return
	}
	s.answer(w, r, map[string]any{"state_hash": s.StateHash()}, nil)
}

// answer replies with JSON, or for a form post redirects back to the page
// with a one-line message.
func (s *Sandbox) answer(w http.ResponseWriter, r *http.Request, v map[string]any, err error) {
	if isForm(r) {
		msg := "done"
		if err != nil {
			msg = "error: " + err.Error()
		} else if d, ok := v["delivery"].(Delivery); ok {
			msg = describeDelivery(d)
		} else if ds, ok := v["deliveries"].([]Delivery); ok {
			msg = fmt.Sprintf("%d callbacks sent", len(ds))
		} else if v["verified"] == true {
			msg = "the callback URL answered the check correctly"
		}
		http.Redirect(w, r, "/sandbox/?msg="+url.QueryEscape(msg), http.StatusSeeOther)
		return
	}
	if err != nil {
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, ErrConflict):
			status = http.StatusConflict
		}
		writeJSON(w, status, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func describeDelivery(d Delivery) string {
	what := d.Event.Event + "/" + d.Event.ChangeType
	switch {
	case d.Queued:
		return what + ": queued (delivery paused)"
	case d.Delivered:
		return fmt.Sprintf("%s: delivered after %d attempt(s)", what, d.Attempts)
	}
	return fmt.Sprintf("%s: not delivered after %d attempt(s): %s", what, d.Attempts, d.Err)
}

type pageData struct {
	Msg        string
	Summary    Summary
	Deliveries []Delivery
	Recent     []string // recent customers, for the forms
	Kinds      []string
}

func (s *Sandbox) servePage(w http.ResponseWriter, r *http.Request) {
	ds := s.Deliveries()
	ds = ds[max(0, len(ds)-20):]
	slices.Reverse(ds)
	ids := s.CustomerIDs()
	recent := ids[max(0, len(ids)-10):]
	slices.Reverse(recent)
	data := pageData{Msg: r.URL.Query().Get("msg"), Summary: s.Summary(), Deliveries: ds, Recent: recent, Kinds: eventKinds}
	var buf bytes.Buffer
	if err := controlPage.Execute(&buf, data); err != nil {
		http.Error(w, "wecomtest: render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}
