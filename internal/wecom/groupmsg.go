package wecom

import (
	"context"
	"net/http"

	"github.com/kith-scrm/kith/internal/kith"
)

// Limits of group messages to customers (add_msg_template, path/92135;
// research notes §5).
const (
	MaxGroupMsgTextBytes   = 4000  // text.content
	MaxGroupMsgAttachments = 9     // attachments
	MaxGroupMsgCustomers   = 10000 // external_userid, chat_type single
	MaxGroupMsgListSpan    = 31 * 24 * 60 * 60
	MaxGroupMsgPage        = 1000 // get_groupmsg_task / get_groupmsg_send_result limit
	MaxGroupMsgListPage    = 100  // get_groupmsg_list_v2 limit
	MaxGroupMsgReminds     = 3    // remind_groupmsg_send per task within 24 h
)

// Group-message error codes (research notes §15).
const (
	CodeNoSendableCustomer  = 41048 // none of the customers can receive the message
	CodeGroupMsgDispatching = 41063 // the task is still being dispatched; ask again later
	CodeGroupMsgCancelled   = 41093 // the task was cancelled already
	CodeRemindOverLimit     = 41094 // reminded 3 times within 24 hours already
)

func init() {
	meanings[CodeNoSendableCustomer] = "None of the customers can receive this group message (not a customer of the sender, or not valid)."
	meanings[CodeGroupMsgDispatching] = "WeCom is still dispatching the group message; its results will be read again shortly."
	meanings[CodeGroupMsgCancelled] = "The group message was already cancelled."
	meanings[CodeRemindOverLimit] = "The member was already reminded 3 times within 24 hours; WeCom allows no more."
}

// Send statuses of get_groupmsg_send_result.
const (
	GroupMsgNotSent    = 0 // the member has not confirmed yet
	GroupMsgSent       = 1
	GroupMsgNotFriend  = 2 // failed: the customer is no longer the member's contact
	GroupMsgOverLimit  = 3 // failed: the customer already received the platform's limit of group messages
	GroupTaskNotSent   = 0 // get_groupmsg_task: the member has not confirmed
	GroupTaskSent      = 2 // get_groupmsg_task: the member confirmed
	GroupMsgFilterCorp = 0 // get_groupmsg_list_v2 filter_type: created by the corp
)

// MsgText is a group message's text.
type MsgText struct {
	Content string `json:"content"`
}

// MsgMedia is an uploaded video or file.
type MsgMedia struct {
	MediaID string `json:"media_id"`
}

// MsgAttachment is one attachment of a group message; MsgType says which
// field is set: image, link, miniprogram, video or file.
type MsgAttachment struct {
	MsgType     string              `json:"msgtype"`
	Image       *WelcomeImage       `json:"image,omitempty"`
	Link        *WelcomeLink        `json:"link,omitempty"`
	MiniProgram *WelcomeMiniProgram `json:"miniprogram,omitempty"`
	Video       *MsgMedia           `json:"video,omitempty"`
	File        *MsgMedia           `json:"file,omitempty"`
}

// MsgTemplate is a group-message task for add_msg_template.
type MsgTemplate struct {
	ChatType       string          `json:"chat_type"` // "single": customers
	ExternalUserID []string        `json:"external_userid,omitempty"`
	Sender         string          `json:"sender,omitempty"`
	AllowSelect    bool            `json:"allow_select,omitempty"`
	Text           *MsgText        `json:"text,omitempty"`
	Attachments    []MsgAttachment `json:"attachments,omitempty"`
}

// MsgTemplateResult is add_msg_template's answer: the task's msgid and
// the customers it cannot go to.
type MsgTemplateResult struct {
	MsgID    string   `json:"msgid"`
	FailList []string `json:"fail_list"`
}

// AddMsgTemplate creates a group-message task
// (POST externalcontact/add_msg_template). Nothing is sent until the
// member confirms it in the WeCom client. It is never retried on WeCom's
// "busy" answers: a task created twice would reach the customers twice.
//
// Only internal/channel/wecomgroup calls this, with gate permits.
func (c *Client) AddMsgTemplate(ctx context.Context, m MsgTemplate) (MsgTemplateResult, error) {
	var out MsgTemplateResult
	switch {
	case m.ChatType != "single":
		return out, kith.Errorf(kith.EINVALID, "wecom: add_msg_template: Kith sends to customers only (chat_type single), not %q", m.ChatType)
	case m.Sender == "":
		return out, kith.Errorf(kith.EINVALID, "wecom: add_msg_template: a sender is required")
	case len(m.ExternalUserID) == 0 || len(m.ExternalUserID) > MaxGroupMsgCustomers:
		return out, kith.Errorf(kith.EINVALID, "wecom: add_msg_template: %d customers; give 1 to %d", len(m.ExternalUserID), MaxGroupMsgCustomers)
	case m.Text == nil && len(m.Attachments) == 0:
		return out, kith.Errorf(kith.EINVALID, "wecom: add_msg_template: a group message needs text or an attachment")
	case m.Text != nil && len(m.Text.Content) > MaxGroupMsgTextBytes:
		return out, kith.Errorf(kith.EINVALID, "wecom: add_msg_template: the text is %d bytes; WeCom allows at most %d", len(m.Text.Content), MaxGroupMsgTextBytes)
	case len(m.Attachments) > MaxGroupMsgAttachments:
		return out, kith.Errorf(kith.EINVALID, "wecom: add_msg_template: %d attachments; WeCom allows at most %d", len(m.Attachments), MaxGroupMsgAttachments)
	}
	err := c.callOnce(ctx, http.MethodPost, "externalcontact/add_msg_template", m, &out)
	return out, err
}

// GroupMsgListQuery asks get_groupmsg_list_v2 for the tasks created in a
// window (at most a month).
type GroupMsgListQuery struct {
	ChatType   string `json:"chat_type"`
	StartTime  int64  `json:"start_time"`
	EndTime    int64  `json:"end_time"`
	Creator    string `json:"creator,omitempty"`
	FilterType int    `json:"filter_type"`
	Limit      int    `json:"limit,omitempty"`
	Cursor     string `json:"cursor,omitempty"`
}

// GroupMsg is one task of get_groupmsg_list_v2.
type GroupMsg struct {
	MsgID       string          `json:"msgid"`
	Creator     string          `json:"creator"`
	CreateTime  int64           `json:"create_time,string"`
	CreateType  int             `json:"create_type"`
	Text        MsgText         `json:"text"`
	Attachments []MsgAttachment `json:"attachments"`
}

// GroupMsgList is a page of tasks.
type GroupMsgList struct {
	NextCursor string     `json:"next_cursor"`
	List       []GroupMsg `json:"group_msg_list"`
}

// GroupMsgListV2 lists group-message tasks
// (POST externalcontact/get_groupmsg_list_v2).
func (c *Client) GroupMsgListV2(ctx context.Context, q GroupMsgListQuery) (GroupMsgList, error) {
	var out GroupMsgList
	if q.EndTime < q.StartTime || q.EndTime-q.StartTime > MaxGroupMsgListSpan {
		return out, kith.Errorf(kith.EINVALID, "wecom: get_groupmsg_list_v2: the window must end after it starts and span at most a month")
	}
	err := c.call(ctx, http.MethodPost, "externalcontact/get_groupmsg_list_v2", nil, q, &out)
	return out, err
}

// GroupMsgTask is one member's part of a task.
type GroupMsgTask struct {
	UserID   string `json:"userid"`
	Status   int    `json:"status"`
	SendTime int64  `json:"send_time"`
}

// GroupMsgTasks is a page of get_groupmsg_task.
type GroupMsgTasks struct {
	NextCursor string         `json:"next_cursor"`
	List       []GroupMsgTask `json:"task_list"`
}

type msgPage struct {
	MsgID  string `json:"msgid"`
	UserID string `json:"userid,omitempty"`
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// GroupMsgTask lists which members confirmed a task
// (POST externalcontact/get_groupmsg_task).
func (c *Client) GroupMsgTask(ctx context.Context, msgID, cursor string) (GroupMsgTasks, error) {
	var out GroupMsgTasks
	err := c.call(ctx, http.MethodPost, "externalcontact/get_groupmsg_task", nil, msgPage{MsgID: msgID, Limit: MaxGroupMsgPage, Cursor: cursor}, &out)
	return out, err
}

// GroupMsgSend is what became of a task for one customer.
type GroupMsgSend struct {
	ExternalUserID string `json:"external_userid"`
	ChatID         string `json:"chat_id"`
	UserID         string `json:"userid"`
	Status         int    `json:"status"`
	SendTime       int64  `json:"send_time"`
}

// GroupMsgSends is a page of get_groupmsg_send_result.
type GroupMsgSends struct {
	NextCursor string         `json:"next_cursor"`
	List       []GroupMsgSend `json:"send_list"`
}

// GroupMsgSendResult lists, for one member's part of a task, what became
// of each customer (POST externalcontact/get_groupmsg_send_result).
func (c *Client) GroupMsgSendResult(ctx context.Context, msgID, userID, cursor string) (GroupMsgSends, error) {
	var out GroupMsgSends
	err := c.call(ctx, http.MethodPost, "externalcontact/get_groupmsg_send_result", nil,
		msgPage{MsgID: msgID, UserID: userID, Limit: MaxGroupMsgPage, Cursor: cursor}, &out)
	return out, err
}

// RemindGroupMsgSend reminds the members who have not confirmed a task
// (POST externalcontact/remind_groupmsg_send): at most 3 times in 24 hours
// (41094 after).
func (c *Client) RemindGroupMsgSend(ctx context.Context, msgID string) error {
	return c.call(ctx, http.MethodPost, "externalcontact/remind_groupmsg_send", nil, msgPage{MsgID: msgID}, nil)
}

// CancelGroupMsgSend stops a task: members who have not confirmed can no
// longer send it (POST externalcontact/cancel_groupmsg_send; 41093 when
// cancelled before).
func (c *Client) CancelGroupMsgSend(ctx context.Context, msgID string) error {
	return c.call(ctx, http.MethodPost, "externalcontact/cancel_groupmsg_send", nil, msgPage{MsgID: msgID}, nil)
}

// callOnce is call without the retries on WeCom's busy answers (-1, 45009,
// 45033): for a call that must not be made twice, a busy answer is
// returned to the caller, which decides. A refused token is still
// refetched once: WeCom did nothing with a call it refused the token of.
func (c *Client) callOnce(ctx context.Context, method, api string, in, out any) error {
	return c.callQuery(ctx, method, api, nil, in, out, 0)
}
