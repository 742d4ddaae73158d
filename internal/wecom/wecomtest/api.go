package wecomtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
)

// maxRequestBody bounds a request body; WeCom requests are small.
const maxRequestBody = 1 << 20

// apiCall is one parsed request to a WeCom API.
type apiCall struct {
	r     *http.Request
	query map[string]string
	body  []byte // nil for GET APIs
}

// decode parses the JSON body into v. An empty body is "{}" (clients call
// get_corp_tag_list without one); anything that is not JSON of the right
// shape is 40058, the code path/90313 gives for "json不合法".
func (c *apiCall) decode(v any) *apiError {
	b := bytes.TrimSpace(c.body)
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errf(CodeInvalidParameter, "invalid Request Parameter, Warning: wrong json format. %s", jsonProblem(err))
	}
	return nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return "field `" + te.Field + "` has the wrong type"
	}
	return "the body is not valid JSON"
}

// endpoint is one WeCom API the sandbox serves.
type endpoint struct {
	post    bool // a POST API: the parameters are in a JSON body
	noToken bool // gettoken itself
	handle  func(s *Sandbox, c *apiCall) (any, *apiError)
}

// endpoints maps API paths to their handlers. Each API keeps its own rate
// window and fault queue, keyed by this path.
var endpoints = map[string]endpoint{
	"/cgi-bin/gettoken":                             {noToken: true, handle: (*Sandbox).apiGetToken},
	"/cgi-bin/user/get":                             {handle: (*Sandbox).apiUserGet},
	"/cgi-bin/externalcontact/get_follow_user_list": {handle: (*Sandbox).apiFollowUserList},
	"/cgi-bin/externalcontact/list":                 {handle: (*Sandbox).apiContactList},
	"/cgi-bin/externalcontact/get":                  {handle: (*Sandbox).apiContactGet},
	"/cgi-bin/externalcontact/batch/get_by_user":    {post: true, handle: (*Sandbox).apiBatchGetByUser},
	"/cgi-bin/externalcontact/remark":               {post: true, handle: (*Sandbox).apiRemark},
	"/cgi-bin/externalcontact/get_corp_tag_list":    {post: true, handle: (*Sandbox).apiGetCorpTagList},
	"/cgi-bin/externalcontact/add_corp_tag":         {post: true, handle: (*Sandbox).apiAddCorpTag},
	"/cgi-bin/externalcontact/edit_corp_tag":        {post: true, handle: (*Sandbox).apiEditCorpTag},
	"/cgi-bin/externalcontact/del_corp_tag":         {post: true, handle: (*Sandbox).apiDelCorpTag},
	"/cgi-bin/externalcontact/mark_tag":             {post: true, handle: (*Sandbox).apiMarkTag},
}

// APIs returns the paths of the WeCom APIs the sandbox serves, sorted.
func APIs() []string {
	out := make([]string, 0, len(endpoints))
	for p := range endpoints {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// serveAPI answers one WeCom API call: fault injection, then the rate
// limit, then the access_token, then the API itself. Every answer is JSON
// with errcode and errmsg.
func (s *Sandbox) serveAPI(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	ep, ok := endpoints[path]
	if !ok {
		writeError(w, errf(CodeAPINotFound, "api not found: %s", r.URL.Path))
		return
	}
	c := &apiCall{r: r, query: map[string]string{}}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			c.query[k] = v[0]
		}
	}
	if ep.post {
		if r.Method != http.MethodPost {
			// path/90313 (40058): a POST API called with GET has no body.
			writeError(w, errf(CodeInvalidParameter, "invalid Request Parameter: %s must be called with POST", path))
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err != nil {
			writeError(w, errf(CodeInvalidParameter, "invalid Request Parameter: body unreadable or too large"))
			return
		}
		c.body = b
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.takeFault(path); e != nil {
		writeError(w, e)
		return
	}
	if e := s.countCall(path); e != nil {
		writeError(w, e)
		return
	}
	if !ep.noToken {
		if e := s.checkToken(c.query["access_token"]); e != nil {
			writeError(w, e)
			return
		}
	}
	resp, e := ep.handle(s, c)
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// okFields are the fields of a successful answer besides errcode and errmsg.
type okFields map[string]any

// success is a successful answer: errcode 0, errmsg "ok" and the fields.
func success(fields okFields) okFields {
	out := okFields{"errcode": CodeOK, "errmsg": msgOK}
	for k, v := range fields {
		out[k] = v
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing to do
}
