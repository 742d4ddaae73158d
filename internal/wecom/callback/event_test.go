package callback

import (
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// contactEvent builds a change_external_contact callback with the official
// element names (path/92277) and the extra elements given.
func contactEvent(changeType, extra string) string {
	return `<xml>
<ToUserName><![CDATA[ww5823bf96d3bd56c7]]></ToUserName>
<FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>1403610513</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[` + changeType + `]]></ChangeType>
<UserID><![CDATA[zhangsan]]></UserID>
<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA]]></ExternalUserID>
` + extra + `</xml>`
}

func TestParseEventExternalContact(t *testing.T) {
	base := Event{
		ToUserName: "ww5823bf96d3bd56c7", FromUserName: "sys", CreateTime: 1403610513,
		MsgType: "event", Event: EventChangeExternalContact,
		UserID: "zhangsan", ExternalUserID: "woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA",
	}
	with := func(changeType string, set func(*Event)) Event {
		e := base
		e.ChangeType = changeType
		if set != nil {
			set(&e)
		}
		return e
	}
	tests := []struct {
		changeType, extra string
		want              Event
	}{
		{ChangeAddExternalContact,
			"<State><![CDATA[live-0615]]></State>\n<WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode>\n",
			with(ChangeAddExternalContact, func(e *Event) { e.State, e.WelcomeCode = "live-0615", "WELCOMECODE" })},
		{ChangeEditExternalContact, "", with(ChangeEditExternalContact, nil)},
		{ChangeAddHalfExternalContact,
			"<State><![CDATA[store-12]]></State>\n<WelcomeCode><![CDATA[HALFCODE]]></WelcomeCode>\n",
			with(ChangeAddHalfExternalContact, func(e *Event) { e.State, e.WelcomeCode = "store-12", "HALFCODE" })},
		{ChangeDelExternalContact, "<Source><![CDATA[DELETE_BY_TRANSFER]]></Source>\n",
			with(ChangeDelExternalContact, func(e *Event) { e.Source = SourceDeleteByTransfer })},
		{ChangeDelFollowUser, "", with(ChangeDelFollowUser, nil)},
		{ChangeTransferFail, "<FailReason><![CDATA[customer_refused]]></FailReason>\n",
			with(ChangeTransferFail, func(e *Event) { e.FailReason = FailCustomerRefused })},
		{ChangeMsgAuditApproved, "<WelcomeCode><![CDATA[AUDITCODE]]></WelcomeCode>\n",
			with(ChangeMsgAuditApproved, func(e *Event) { e.WelcomeCode = "AUDITCODE" })},
	}
	for _, tt := range tests {
		t.Run(tt.changeType, func(t *testing.T) {
			e, err := ParseEvent([]byte(contactEvent(tt.changeType, tt.extra)))
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			e.XMLName = tt.want.XMLName
			if !reflect.DeepEqual(*e, tt.want) {
				t.Fatalf("ParseEvent =\n%+v\nwant\n%+v", *e, tt.want)
			}
			if want := "change_external_contact/" + tt.changeType; e.Kind() != want {
				t.Errorf("Kind = %q, want %q", e.Kind(), want)
			}
			if e.Time().Unix() != 1403610513 {
				t.Errorf("Time = %v", e.Time())
			}
		})
	}
}

func TestParseEventExternalChat(t *testing.T) {
	const head = `<xml><ToUserName><![CDATA[ww5823bf96d3bd56c7]]></ToUserName>
<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1403610513</CreateTime>
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_chat]]></Event>
<ChatId><![CDATA[wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA]]></ChatId>`

	t.Run("create", func(t *testing.T) {
		e := mustParse(t, head+`<ChangeType><![CDATA[create]]></ChangeType></xml>`)
		if e.Kind() != "change_external_chat/create" || e.ChatID != "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA" {
			t.Fatalf("ParseEvent = %+v", e)
		}
	})
	t.Run("update add_member", func(t *testing.T) {
		e := mustParse(t, head+`<ChangeType><![CDATA[update]]></ChangeType>
<UpdateDetail><![CDATA[add_member]]></UpdateDetail>
<JoinScene>3</JoinScene>
<QuitScene>0</QuitScene>
<MemChangeCnt>2</MemChangeCnt>
<MemChangeList>
  <Item><![CDATA[wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA]]></Item>
  <Item>zhangsan</Item>
</MemChangeList>
<LastMemVer><![CDATA[9c3f97c2ada667dfb5f6d03308d963e1]]></LastMemVer>
<CurMemVer><![CDATA[71217227bbd112ecfe3a49c482195cb4]]></CurMemVer>
</xml>`)
		if e.Kind() != "change_external_chat/update" || e.UpdateDetail != ChatAddMember ||
			e.JoinScene != JoinByQRCode || e.QuitScene != 0 || e.MemChangeCnt != 2 ||
			!reflect.DeepEqual(e.MemChangeList, []string{"wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA", "zhangsan"}) ||
			e.LastMemVer != "9c3f97c2ada667dfb5f6d03308d963e1" || e.CurMemVer != "71217227bbd112ecfe3a49c482195cb4" {
			t.Fatalf("ParseEvent = %+v", e)
		}
	})
	t.Run("update del_member", func(t *testing.T) {
		e := mustParse(t, head+`<ChangeType><![CDATA[update]]></ChangeType>
<UpdateDetail><![CDATA[del_member]]></UpdateDetail><QuitScene>1</QuitScene>
<MemChangeCnt>1</MemChangeCnt><MemChangeList><Item>wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA</Item></MemChangeList>
</xml>`)
		if e.UpdateDetail != ChatDelMember || e.QuitScene != QuitByRemoval || len(e.MemChangeList) != 1 {
			t.Fatalf("ParseEvent = %+v", e)
		}
	})
	t.Run("update change_owner", func(t *testing.T) {
		e := mustParse(t, head+`<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[change_owner]]></UpdateDetail></xml>`)
		if e.UpdateDetail != ChatChangeOwner || e.MemChangeList != nil {
			t.Fatalf("ParseEvent = %+v", e)
		}
	})
	t.Run("dismiss", func(t *testing.T) {
		e := mustParse(t, head+`<ChangeType><![CDATA[dismiss]]></ChangeType></xml>`)
		if e.Kind() != "change_external_chat/dismiss" || e.ChangeType != ChatDismiss {
			t.Fatalf("ParseEvent = %+v", e)
		}
	})
}

func TestParseEventExternalTag(t *testing.T) {
	tag := func(id, tagType, changeType, extra string) string {
		return `<xml><ToUserName><![CDATA[ww5823bf96d3bd56c7]]></ToUserName>
<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1403610513</CreateTime>
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_tag]]></Event>
<Id><![CDATA[` + id + `]]></Id><TagType><![CDATA[` + tagType + `]]></TagType>
<ChangeType><![CDATA[` + changeType + `]]></ChangeType>` + extra + `</xml>`
	}
	tests := []struct {
		name, xml               string
		id, tagType, changeType string
		strategyID              int64
	}{
		{"create tag", tag("etXXXXXXXXXX", "tag", "create", ""), "etXXXXXXXXXX", TagTypeTag, TagCreate, 0},
		{"update group", tag("grpYYYY", "tag_group", "update", ""), "grpYYYY", TagTypeGroup, TagUpdate, 0},
		{"delete tag of a rule group", tag("etZZZ", "tag", "delete", "<StrategyId>7</StrategyId>"), "etZZZ", TagTypeTag, TagDelete, 7},
		{"shuffle", `<xml><ToUserName><![CDATA[ww5823bf96d3bd56c7]]></ToUserName>
<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1403610513</CreateTime>
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_tag]]></Event>
<Id><![CDATA[grpYYYY]]></Id><ChangeType><![CDATA[shuffle]]></ChangeType><StrategyId>1</StrategyId></xml>`,
			"grpYYYY", "", TagShuffle, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustParse(t, tt.xml)
			if e.ID != tt.id || e.TagType != tt.tagType || e.ChangeType != tt.changeType || e.StrategyID != tt.strategyID {
				t.Fatalf("ParseEvent = Id %q TagType %q ChangeType %q StrategyId %d", e.ID, e.TagType, e.ChangeType, e.StrategyID)
			}
			if want := "change_external_tag/" + tt.changeType; e.Kind() != want {
				t.Errorf("Kind = %q, want %q", e.Kind(), want)
			}
		})
	}
}

func TestParseEventUnknown(t *testing.T) {
	e := mustParse(t, `<xml><ToUserName><![CDATA[ww5823bf96d3bd56c7]]></ToUserName>
<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime>
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[customer_acquisition]]></Event>
<ChangeType><![CDATA[balance_exhausted]]></ChangeType>
<LinkId><![CDATA[cawcdeXXXX]]></LinkId><Nested><A>1</A><B/></Nested></xml>`)
	if e.Kind() != "customer_acquisition/balance_exhausted" || e.CreateTime != 1700000000 || e.FromUserName != "sys" {
		t.Fatalf("ParseEvent = %+v", e)
	}
	e = mustParse(t, `<xml><MsgType>event</MsgType><Event>enter_agent</Event><EventKey></EventKey><AgentID>1000002</AgentID></xml>`)
	if e.Kind() != "enter_agent" || e.AgentID != 1000002 {
		t.Fatalf("ParseEvent = %+v", e)
	}
	// Empty and whitespace-padded numbers are zero and trimmed, as WeCom sends them.
	e = mustParse(t, "<xml><MsgType>event</MsgType><Event>x</Event><AgentID></AgentID><CreateTime> 5\n</CreateTime></xml>")
	if e.AgentID != 0 || e.CreateTime != 5 {
		t.Fatalf("ParseEvent = %+v", e)
	}
}

func TestParseEventRefusals(t *testing.T) {
	for _, in := range []string{
		"",
		"not xml at all",
		"<xml><MsgType>text</MsgType>",
		"<xml><Content>" + secretMsg + "</xml>",
		"<message><MsgType>text</MsgType></message>",
		"<xml><CreateTime>" + secretMsg + "</CreateTime></xml>",
		"<xml><AgentID>99999999999999999999</AgentID></xml>",
	} {
		e, err := ParseEvent([]byte(in))
		if err == nil || e != nil {
			t.Errorf("ParseEvent(%q) = %+v, nil; want an error", in, e)
			continue
		}
		if strings.Contains(err.Error(), secretMsg) || strings.Contains(err.Error(), "message") {
			t.Errorf("ParseEvent(%q) error %q quotes the input", in, err)
		}
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		e    Event
		want string
	}{
		{Event{MsgType: "text"}, "text"},
		{Event{MsgType: "image", Event: "ignored", ChangeType: "ignored"}, "image"},
		{Event{MsgType: "event", Event: "subscribe"}, "subscribe"},
		{Event{MsgType: "event", Event: "change_external_contact", ChangeType: "del_follow_user"},
			"change_external_contact/del_follow_user"},
		{Event{}, ""},
	}
	for _, tt := range tests {
		if got := tt.e.Kind(); got != tt.want {
			t.Errorf("%+v.Kind() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestDedupeKey(t *testing.T) {
	// The time first, big-endian, then the SHA-256 of the empty string and
	// of "abc" (FIPS 180-2 example).
	if got := hex.EncodeToString([]byte(DedupeKey(0x0102030405060708, nil))); got != "0102030405060708"+"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("DedupeKey(nil) = %s", got)
	}
	if got := hex.EncodeToString([]byte(DedupeKey(1700000000, []byte("abc")))); got != "000000006553f100"+"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("DedupeKey(abc) = %s", got)
	}
	if got := hex.EncodeToString([]byte(DedupeKey(-1, nil)))[:16]; got != "ffffffffffffffff" {
		t.Errorf("DedupeKey(-1, nil) starts %s", got)
	}
	a := contactEvent(ChangeAddExternalContact, "")
	b := strings.Replace(a, "zhangsan", "lisi", 1) // same second, same "sys", another member
	ea := mustParse(t, a)
	if DedupeKey(ea.CreateTime, []byte(a)) == DedupeKey(ea.CreateTime, []byte(b)) {
		t.Error("two events differing only in UserID share a DedupeKey")
	}
	if DedupeKey(ea.CreateTime, []byte(a)) != DedupeKey(ea.CreateTime, []byte(a)) {
		t.Error("DedupeKey is not deterministic")
	}
	// Keys sort by time first, so events arriving together land together
	// in the index.
	if !(DedupeKey(1700000000, []byte("zzz")) < DedupeKey(1700000001, []byte("aaa"))) {
		t.Error("a later event's key sorts before an earlier one's")
	}
	if n := len(DedupeKey(ea.CreateTime, []byte(a))); n != DedupeKeyLen {
		t.Errorf("len(DedupeKey) = %d, want %d", n, DedupeKeyLen)
	}
}

func mustParse(t *testing.T, s string) *Event {
	t.Helper()
	e, err := ParseEvent([]byte(s))
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	return e
}
