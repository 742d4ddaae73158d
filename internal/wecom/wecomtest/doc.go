// Package wecomtest is a local WeCom (企业微信) sandbox: an in-memory corp
// that stands in for Tencent's servers in tests and in `kith serve
// --sandbox`. Pointing Kith's WeCom client at it instead of
// https://qyapi.weixin.qq.com is the only difference from production, so
// it follows the official server-API documentation rather than Kith's
// client, which it never imports.
//
// # What it serves
//
// Handler answers these APIs under /cgi-bin/ with the documented JSON field
// names, limits and error codes (paths on developer.work.weixin.qq.com/document/):
//
//   - gettoken (path/91039): 40013 wrong corpid, 40001 wrong secret, 41002/41004
//     missing ones; the same token until it expires (TTL configurable).
//     Every other API answers 41001 without a token, 40014 for an unknown
//     one and 42001 for an expired one.
//   - user/get (path/90196): 60111 for an unknown or departed userid.
//   - externalcontact/get_follow_user_list (path/92571), externalcontact/list
//     (path/92113, 84061 for a member without customers).
//   - externalcontact/get (path/96315): follow_user paged by 500 with a cursor;
//     40096 unknown customer, 84061 no relation.
//   - externalcontact/batch/get_by_user (path/96316): userid_list at most 100
//     (40058), limit default 50 and at most 100, opaque next_cursor; each
//     relation appears exactly once across pages even if others change.
//   - externalcontact/remark (path/92115, 96317): remark and remark_company at
//     most 20 characters, description 150 (40058).
//   - get_corp_tag_list, add_corp_tag, edit_corp_tag, del_corp_tag
//     (path/96320): 3,000 live tags per corp (40126), duplicate names 40071,
//     names at most 30 characters (40072), unknown ids 40068; an app edits
//     and deletes only the tags it created.
//   - mark_tag (path/92118).
//
// Each API has its own per-minute and per-hour call limit (default 10,000
// and 150,000, path/90312) answered with 45009; InjectFault makes the next
// calls of an API answer -1 (busy), 45033 or any other code. Bad JSON and
// over-long parameters get 40058 (path/90313: "json不合法", "参数值的长度超出了
// 限制"); an unknown path gets HTTP 404. Writes through the API send no
// callback (path/96361).
//
// # Callbacks
//
// The driver methods act as people would: a customer adds a member
// (add_external_contact with State and WelcomeCode, add_half_external_contact),
// a member edits or deletes a customer, a customer deletes a member (the
// one-way relation stays), a takeover fails, a member leaves the company
// (change_contact delete_user), an admin creates, renames, deletes or
// reorders corp tags (change_external_tag), a customer group chat changes
// (change_external_chat). Each changes the corp, then POSTs the event XML
// (official element names, CDATA like WeCom) sealed by package callback to
// the callback URL with msg_signature, timestamp and nonce (events: path/92277,
// 92130, 90970; sealing: path/91144). Anything but HTTP 200 is retried, three
// deliveries in all, then recorded as failed; PauseDelivery queues events
// as if Kith were down, ResumeDelivery and RedeliverFailed send them later.
// VerifyCallbackURL does the GET-with-echostr check WeCom makes when an
// admin saves the URL (path/90968).
//
// Seed builds a deterministic demo company (ten members, 5,000 customers
// with Chinese names, 40 corp tags in six groups, remarks, tags, add_way and
// channel states). The same seed gives the same StateHash.
//
// A small control API and an HTML page under /sandbox/ trigger events by
// hand, pause delivery, inject faults and reseed.
//
// Customer moments (api_moment.go, driver_moment.go): add_moment_task,
// get_moment_task_result, get_moment_list, get_moment_task,
// get_moment_comments and cancel_moment_task with WeCom's fields, limits
// and errors (41078 while too many jobs run); the driver makes members
// publish (the post is seen by the member's customers carrying one of the
// moment's tags at that time) and customers like and comment. Kith itself
// never likes or comments: WeCom has no API for it.
//
// # What it does not emulate
//
// Personal tags, rule-group (strategy) tags, 「联系我」 contact ways,
// welcome messages (send_welcome_msg), moment strategies, customer
// transfers (only the transfer_fail event), the groupchat APIs (only the
// change_external_chat event), the address-book APIs beyond user/get,
// unionid conversion, third-party and 代开发 apps (provider-scoped IDs,
// suite tokens), interconnection licences (fail_info), trusted IPs,
// visibility scopes and permissions other than tag ownership, the
// per-IP limits, the one-hour block after many wrong secrets, and callback
// URL verification (GET with echostr: WeCom does that once when the URL is
// saved in the admin console).
package wecomtest
