package wecom

import (
	"errors"
	"fmt"
	"strings"
)

// WeCom error codes that Kith handles or explains. Code branches on these,
// never on errmsg (https://developer.work.weixin.qq.com/document/path/90455;
// texts from the global error-code page, path/90313).
const (
	CodeBusy                = -1     // system busy; retried with backoff
	CodeInvalidSecret       = 40001  // wrong or reset secret, or the app is disabled
	CodeInvalidUserID       = 40003  // the member userid is not valid or not in the address book
	CodeInvalidCorpID       = 40013  // the corp ID is wrong
	CodeInvalidToken        = 40014  // access_token invalid; dropped and fetched again once
	CodeInvalidParameter    = 40058  // a parameter is malformed, too long or missing
	CodeInvalidTagID        = 40068  // the tag or tag group ID does not exist
	CodeInvalidExternalUser = 40096  // the external_userid is not valid for this corp
	CodeTagLimit            = 40126  // the corp already has 3000 enterprise tags
	CodeTokenMissing        = 41001  // access_token missing from the URL: a bug
	CodeTokenExpired        = 42001  // access_token expired; dropped and fetched again once
	CodeRateLimited         = 45009  // API frequency limit hit; retried with backoff
	CodeConcurrency         = 45033  // too many concurrent calls to one API; retried with backoff
	CodeNoPermission        = 48002  // the app may not call this API
	CodeAppDisabled         = 50003  // the app is disabled in the admin console
	CodeInvalidCursor       = 50100  // the paging cursor is not valid
	CodeOutOfScope          = 60011  // the member, department or tag is outside the app's scope
	CodeUntrustedIP         = 60020  // the server's IP is not in the app's trusted IPs
	CodeUserNotFound        = 60111  // no member with that userid
	CodeNoRelation          = 84061  // the member and the customer are not connected
	CodeNoContactPermission = 84074  // the app lacks the customer-contact permission
	CodeUnlicensed          = 701008 // none of the members has an interop licence

	// Contact ways, links and welcome messages (research notes §3, §4, §15).
	CodeContactWayTooManyUsers = 41041 // a contact way lists more than 100 members
	CodeContactWayQuota        = 41045 // the corp's 500,000 API contact ways are used up
	CodeWelcomeCodeMissing     = 41049 // send_welcome_msg without a welcome_code
	CodeWelcomeCodeExpired     = 41050 // the welcome code is invalid or older than 20 s
	CodeWelcomeAlreadyChatting = 41051 // the code was used, or the member and customer already chat
	CodeWelcomeNoArchiveAgree  = 41053 // the customer has not accepted the archiving notice
	CodeMemberNotActivated     = 41054 // the member is not activated, not real-name verified or lacks customer contact
	CodeWelcomeSending         = 41096 // a welcome message for this code is being sent
	CodeMemberNotVerified      = 40098 // the member is not real-name verified
)

// Error is an answer from WeCom with a non-zero errcode. Message is WeCom's
// errmsg, kept for logs only: never branch on it and never show it as is.
type Error struct {
	Code    int
	Message string
	API     string // the API path below /cgi-bin/, e.g. "externalcontact/get"
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("wecom: %s: errcode %d: %s", e.API, e.Code, e.Message)
}

// ErrorCode returns the WeCom errcode of the first *Error in err's chain. It
// returns 0 when err is nil and also when err did not come from a WeCom
// answer (a network failure, a bad response or a rejected argument).
func ErrorCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// meanings says, for the console, what each code means and what to do.
var meanings = map[int]string{
	CodeBusy:                "WeCom is busy. Kith retries a few times on its own; if this persists, try again in a few minutes.",
	CodeInvalidSecret:       "The app secret is wrong: it was mistyped, reset in the WeCom admin console, or the app is disabled. Copy the current secret of the self-built app into Kith's settings. Repeated failures block the server's IP for an hour, so Kith pauses after this error.",
	CodeInvalidUserID:       "The member's userid is not valid, or the member left the company. Refresh the member list.",
	CodeInvalidCorpID:       "The corp ID is wrong. Copy it from My Company → Company Information (企业ID) in the WeCom admin console.",
	CodeInvalidToken:        "WeCom rejected the access token. Kith fetched a new one and tried again; if this persists, check that the secret belongs to the app configured in Kith.",
	CodeInvalidParameter:    "WeCom rejected a parameter as malformed, too long or missing. This is usually a bug in Kith; please report it with the time of the error.",
	CodeInvalidTagID:        "The tag or tag group does not exist any more. Refresh the tag list.",
	CodeInvalidExternalUser: "The customer's external_userid is not valid for this company, or the member who added the customer is outside the app's visible range.",
	CodeTagLimit:            "The company already has 3000 enterprise tags, WeCom's limit. Delete unused tags before adding new ones.",
	CodeTokenMissing:        "The request carried no access token. This is a bug in Kith; please report it.",
	CodeTokenExpired:        "The access token expired. Kith fetched a new one and tried again; if this persists, check the server's clock.",
	CodeRateLimited:         "WeCom's call frequency limit was hit; WeCom blocks the API for the rest of the limit's window (a minute, an hour or a day). Kith retries with backoff; lower the sync frequency if this persists. A wrong secret tried many times also causes it.",
	CodeConcurrency:         "Too many calls to the same WeCom API at once. Kith retries with backoff; lower the number of parallel jobs if this persists.",
	CodeNoPermission:        "This app may not call this API. In the WeCom admin console add the self-built app to Customer Contact → API (客户联系 → 可调用接口的应用) and check its permissions.",
	CodeAppDisabled:         "The app is disabled. Enable it again in the WeCom admin console under App Management.",
	CodeInvalidCursor:       "The paging cursor is not valid any more. Start the listing again from the beginning.",
	CodeOutOfScope:          "The member, department or tag is outside the app's visible range, or was not created by this app. Widen the app's visible range in the WeCom admin console.",
	CodeUntrustedIP:         "The server's IP address is not a trusted IP of the app. Add it under the app's details → Trusted IPs (企业可信IP) in the WeCom admin console; a new IP takes about a minute to work.",
	CodeUserNotFound:        "No member has this userid: the member left, was deleted, or is outside the app's visible range.",
	CodeNoRelation:          "The member and the customer are no longer connected (the member deleted the customer). Nothing can be changed on this relationship.",
	CodeNoContactPermission: "The app lacks the customer-contact permission. Add it to Customer Contact → API (客户联系 → 可调用接口的应用) in the WeCom admin console.",
	CodeUnlicensed:          "None of the members has an interop licence (互通许可), so WeCom returns none of their customers. Buy or assign licences in the WeCom admin console.",

	// Contact ways, links and welcome messages.
	CodeContactWayTooManyUsers: "A contact way may list at most 100 members, departments counted member by member. Take members off the channel or split it in two.",
	CodeContactWayQuota:        "The company has used all 500,000 contact ways WeCom allows through the API. Delete channels that are not used any more.",
	CodeWelcomeCodeMissing:     "The welcome message was sent without the event's welcome code. This is a bug in Kith; please report it.",
	CodeWelcomeCodeExpired:     "The welcome code expired: WeCom accepts it for 20 seconds after the customer arrives. Kith was too slow to greet this customer; check that events are applied quickly (Events page).",
	CodeWelcomeAlreadyChatting: "The welcome code was already used (another app sent a welcome first, or the member and the customer already chat). If another app sends welcome messages, let only one of them do it.",
	CodeWelcomeNoArchiveAgree:  "The customer has not accepted the chat-archiving notice, so WeCom sends no welcome message.",
	CodeMemberNotActivated:     "A member is not activated, not real-name verified, or has no customer-contact permission. Check the member in the WeCom admin console, or take them off the channel.",
	CodeWelcomeSending:         "A welcome message for this customer is being sent already.",
	CodeMemberNotVerified:      "The member is not real-name verified. Verify the member in the WeCom admin console, or take them off the channel.",
}

// Meaning says in plain English what a WeCom error code means and what to do
// about it, for the console. Unknown codes get a pointer to WeCom's lookup
// tool.
func Meaning(code int) string {
	if code == 0 {
		return "Success."
	}
	if m, ok := meanings[code]; ok {
		return m
	}
	return fmt.Sprintf("WeCom error %d. Look it up at https://open.work.weixin.qq.com/devtool/query?e=%d", code, code)
}

// retryable reports whether a code is a passing overload worth retrying.
func retryable(code int) bool {
	return code == CodeBusy || code == CodeRateLimited || code == CodeConcurrency
}

// tokenRejected reports whether WeCom refused the access token itself.
func tokenRejected(code int) bool {
	return code == CodeInvalidToken || code == CodeTokenExpired
}

// credentialsRejected reports whether gettoken refused the corp ID or secret;
// retrying those only gets the server's IP blocked.
func credentialsRejected(code int) bool {
	return code == CodeInvalidSecret || code == CodeInvalidCorpID
}

// redact replaces every secret in s; errmsg and transport errors could echo a
// URL that carries the secret or the token.
func redact(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}
