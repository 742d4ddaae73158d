package wecomtest

import (
	"fmt"
	"net/http"
)

// Error codes the sandbox answers with, from WeCom's global error code list
// (https://developer.work.weixin.qq.com/document/path/90313). Clients must
// branch on these, never on errmsg.
const (
	CodeBusy                 = -1    // 系统繁忙
	CodeOK                   = 0     // 请求成功
	CodeInvalidSecret        = 40001 // 不合法的secret参数
	CodeInvalidCorpID        = 40013 // 不合法的CorpID
	CodeInvalidToken         = 40014 // 不合法的access_token
	CodeInvalidParameter     = 40058 // 不合法的参数 (also: bad JSON, value too long, list too long)
	CodeInvalidTagID         = 40068 // 不合法的标签/标签组ID
	CodeTagNameExists        = 40071 // 不合法的标签名字: 标签名字已经存在
	CodeInvalidTagNameLength = 40072 // 不合法的标签名字长度
	CodeInvalidExternalUser  = 40096 // 不合法的外部联系人userid
	CodeTagLimit             = 40126 // 企业标签个数达到上限，最多为3000个
	CodeTokenMissing         = 41001 // 缺少access_token参数
	CodeCorpIDMissing        = 41002 // 缺少corpid参数
	CodeSecretMissing        = 41004 // 缺少secret参数
	CodeUserIDMissing        = 41009 // 缺少userid参数
	CodeTagNameMissing       = 41018 // 缺少标签名
	CodeExternalUserMissing  = 41035 // 缺少外部联系人userid参数
	CodeTokenExpired         = 42001 // access_token已过期
	CodeFrequencyLimit       = 45009 // 接口调用超过限制
	CodeConcurrencyLimit     = 45033 // 接口并发调用超过限制
	CodeInvalidCursor        = 50100 // 分页查询的游标无效
	CodeUserNotFound         = 60111 // UserID不存在
	CodeNoRelation           = 84061 // 不存在外部联系人的关系

	// CodeNoAppPermission answers an API edit or delete of a tag the app did
	// not create ("应用仅能编辑和删除本应用创建的标签", path/96320). 301002 is
	// 90313's 无权限操作指定的应用; only third-party notes tie it to tags, so
	// it is the least certain code here.
	CodeNoAppPermission = 301002

	// CodeAPINotFound answers an unknown path, with HTTP 404. It is the
	// sandbox's own: the docs define no code for it.
	CodeAPINotFound = 404
)

// Limits from the documentation.
const (
	maxTags             = 3000 // corp tags per corp, incl. rule-group tags (path/96320)
	maxRemarkChars      = 20   // remark and remark_company (path/96317)
	maxDescriptionChars = 150  // description (path/96317)
	maxTagNameChars     = 30   // tag and tag group names (path/96320)
	maxBatchUsers       = 100  // batch/get_by_user userid_list (path/96316)
	maxUserIDBytes      = 64   // a userid is 1 to 64 characters (path/90313, 40003)
	defaultBatchLimit   = 50   // batch/get_by_user limit default (path/96316)
	maxBatchLimit       = 100  // batch/get_by_user limit maximum (path/96316)
	followUserPage      = 500  // externalcontact/get pages follow_user beyond 500 (path/96315)
)

const (
	devtoolQuery = "https://open.work.weixin.qq.com/devtool/query?e="
	sandboxHint  = "sandbox"
	msgOK        = "ok"
)

// apiError is an answer with a non-zero errcode.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return fmt.Sprintf("errcode %d: %s", e.code, e.msg) }

func errf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// errmsg formats an error message the way WeCom does: the text, a hint and
// a pointer to the error-code query tool.
func errmsg(e *apiError) string {
	return fmt.Sprintf("%s, hint: [%s], more info at %s%d", e.msg, sandboxHint, devtoolQuery, e.code)
}

// writeError answers with a WeCom error body. WeCom answers errors with HTTP
// 200; only an unknown path gets 404 here.
func writeError(w http.ResponseWriter, e *apiError) {
	status := http.StatusOK
	if e.code == CodeAPINotFound {
		status = http.StatusNotFound
	}
	writeJSON(w, status, map[string]any{"errcode": e.code, "errmsg": errmsg(e)})
}
