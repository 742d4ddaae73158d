package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/kith"
)

// Golden request and response samples use WeCom's own field names; the
// samples in testdata are those of the official pages (paths 92571, 90196,
// 96315, 96316, 96317, 96320, 92118).

// exchange checks one API call: method, path, query without the token, and
// JSON body against a golden file ("" for none).
type exchange struct {
	api, method string
	query       map[string]string
	bodyFile    string
}

func checkExchange(t *testing.T, h *harness, want exchange) {
	t.Helper()
	reqs := h.fake.requestsTo(want.api)
	if len(reqs) != 1 {
		t.Fatalf("%s received %d requests; want 1", want.api, len(reqs))
	}
	r := reqs[0]
	if r.Method != want.method {
		t.Errorf("%s method = %s; want %s", want.api, r.Method, want.method)
	}
	q := map[string]string{}
	for k := range r.Query {
		q[k] = r.Query.Get(k)
	}
	if q["access_token"] != tokenName(1) {
		t.Errorf("access_token = %q; want the token in the query string", q["access_token"])
	}
	delete(q, "access_token")
	if want.query == nil {
		want.query = map[string]string{}
	}
	if !reflect.DeepEqual(q, want.query) {
		t.Errorf("%s query = %v; want %v", want.api, q, want.query)
	}
	switch {
	case want.bodyFile == "" && len(r.Body) != 0:
		t.Errorf("%s sent a body: %s", want.api, r.Body)
	case want.bodyFile != "":
		assertJSONEqual(t, r.Body, mustRead(t, want.bodyFile))
	}
}

func assertEqual(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("decoded answer differs\n got: %s\nwant: %s", g, w)
	}
}

func TestFollowUserList(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.handleValid("externalcontact/get_follow_user_list", answerFile(t, "get_follow_user_list.response.json"))
	got, err := h.FollowUserList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkExchange(t, h, exchange{api: "externalcontact/get_follow_user_list", method: "GET"})
	assertEqual(t, got, []string{"zhangsan", "lissi"})
}

func TestGetUser(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.handleValid("user/get", answerFile(t, "user_get.response.json"))
	got, err := h.GetUser(context.Background(), "zhangsan")
	if err != nil {
		t.Fatal(err)
	}
	checkExchange(t, h, exchange{api: "user/get", method: "GET", query: map[string]string{"userid": "zhangsan"}})
	attrs := []ExternalAttr{
		{Type: 0, Name: "文本名称", Text: &ExternalAttrText{Value: "文本"}},
		{Type: 1, Name: "网页名称", Web: &ExternalAttrWeb{URL: "http://www.test.com", Title: "标题"}},
		{Type: 2, Name: "测试app", Miniprogram: &ExternalAttrMiniApp{AppID: "wx8bd80126147dFAKE", PagePath: "/index", Title: "my miniprogram"}},
	}
	assertEqual(t, got, &User{
		UserID: "zhangsan", Name: "张三", Department: []int64{1, 2}, Order: []int64{1, 2}, Position: "后台工程师",
		Mobile: "13800000000", Gender: GenderMale, Email: "zhangsan@qq.com", BizMail: "zhangsan@tencent.com",
		IsLeaderInDept: []int{1, 0}, DirectLeader: []string{"lisi"},
		Avatar:      "http://wx.qlogo.cn/mmopen/ajNVdqHZLLA3WJ6DSZUfiakYe37PKnQhBIeOQBO4czqrnZDS79FH5Wm5m4X69TBicnHFlhiafvDwklOpZeXYQQ2icg/0",
		ThumbAvatar: "http://wx.qlogo.cn/mmopen/ajNVdqHZLLA3WJ6DSZUfiakYe37PKnQhBIeOQBO4czqrnZDS79FH5Wm5m4X69TBicnHFlhiafvDwklOpZeXYQQ2icg/100",
		Telephone:   "020-123456", Alias: "jackzhang", Address: "广州市海珠区新港中路", OpenUserID: "xxxxxx", MainDepartment: 1,
		Status: 1, QRCode: "https://open.work.weixin.qq.com/wwopen/userQRCode?vcode=xxx", ExternalPosition: "产品经理",
		ExternalProfile: &ExternalProfile{ExternalCorpName: "企业简称", WechatChannels: &WechatChannels{Nickname: "视频号名称", Status: 1}, ExternalAttr: attrs},
	})
}

// A self-built app created after 2022-06-20 gets no mobile, gender, email
// or avatar (an answer seen in WeCom's developer community).
func TestGetUserOfNewerApp(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.handleValid("user/get", answerFile(t, "user_get_new_app.response.json"))
	got, err := h.GetUser(context.Background(), "huang")
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != "huang" || got.Mobile != "" || got.Gender != GenderUnknown || got.Avatar != "" || got.Status != 1 || got.Position != "IT" {
		t.Errorf("user = %+v", got)
	}
}

func TestGenderReadsNumbersAndStrings(t *testing.T) {
	for in, want := range map[string]Gender{`1`: GenderMale, `"2"`: GenderFemale, `"0"`: GenderUnknown, `""`: GenderUnknown, `null`: GenderUnknown} {
		var g Gender
		if err := json.Unmarshal([]byte(in), &g); err != nil || g != want {
			t.Errorf("gender %s = %d, %v; want %d", in, g, err, want)
		}
	}
	var g Gender
	if err := json.Unmarshal([]byte(`"male"`), &g); err == nil {
		t.Error("gender \"male\" was accepted")
	}
}

func TestBatchGetByUser(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/batch/get_by_user"
	h.fake.handleValid(api, answerFile(t, "batch_get_by_user.response.json"))
	got, err := h.BatchGetByUser(context.Background(), []string{"zhangsan", "lisi"}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	checkExchange(t, h, exchange{api: api, method: "POST", bodyFile: "batch_get_by_user.request.json"})
	assertEqual(t, got, &BatchGetByUserResult{
		ExternalContactList: []ExternalContactWithFollow{
			{
				ExternalContact: ExternalContact{
					ExternalUserID: "woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA", Name: "李四", Position: "Manager",
					Avatar: "http://p.qlogo.cn/bizmail/IcsdgagqefergqerhewSdage/0", CorpName: "腾讯", CorpFullName: "腾讯科技有限公司",
					Type: ContactWeCom, Gender: GenderMale, UnionID: "ozynqsulJFCZ2z1aYeS8h-nuasdAAA",
					ExternalProfile: &ExternalProfile{ExternalAttr: []ExternalAttr{
						{Type: 0, Name: "文本名称", Text: &ExternalAttrText{Value: "文本"}},
						{Type: 1, Name: "网页名称", Web: &ExternalAttrWeb{URL: "http://www.test.com", Title: "标题"}},
						{Type: 2, Name: "测试app", Miniprogram: &ExternalAttrMiniApp{AppID: "wx8bd80126147df384", PagePath: "/index", Title: "my miniprogram"}},
					}},
				},
				FollowInfo: FollowInfo{
					UserID: "rocky", Remark: "李部长", Description: "对接采购事务", CreateTime: 1525779812,
					TagID: []string{"etAJ2GCAAAXtWyujaWJHDDGi0mACHAAA"}, RemarkCorpName: "腾讯科技",
					RemarkMobiles: []string{"13800000001", "13000000002"}, OperUserID: "rocky", AddWay: AddWayQRCode,
				},
			},
			{
				ExternalContact: ExternalContact{
					ExternalUserID: "woAJ2GCAAAXtWyujaWJHDDGi0mACHBBB", Name: "王五",
					Avatar: "http://p.qlogo.cn/bizmail/IcsdgagqefergqerhewSdage/0", Type: ContactWeChat, Gender: GenderMale,
					UnionID: "ozynqsulJFCZ2z1aYeS8h-nuasdAAA",
				},
				FollowInfo: FollowInfo{
					UserID: "lisi", Remark: "王先生", CreateTime: 1525881637, TagID: []string{"etAJ2GCAAAXtWyujaWJHDDGi0mACHAAA"},
					State: "外联二维码1", OperUserID: "woAJ2GCAAAd1asdasdjO4wKmE8Aabj9AAA", AddWay: AddWayCardShare,
				},
			},
		},
		NextCursor: "r9FqSqsI8fgNbHLHE5QoCP50UIg2cFQbfma3l2QsmwI",
	})
}

func TestBatchGetByUserDefaultLimitIsNotSent(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/batch/get_by_user"
	h.fake.handleValid(api, answerCodes(`{"errcode":0,"errmsg":"ok","external_contact_list":[],"next_cursor":""}`))
	if _, err := h.BatchGetByUser(context.Background(), []string{"zhangsan"}, "CURSOR", 0); err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, h.fake.requestsTo(api)[0].Body, []byte(`{"userid_list":["zhangsan"],"cursor":"CURSOR"}`))
}

func TestGetExternalContact(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/get"
	h.fake.handleValid(api, answerFile(t, "externalcontact_get.response.json"))
	got, err := h.GetExternalContact(context.Background(), "woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA", "CURSOR")
	if err != nil {
		t.Fatal(err)
	}
	checkExchange(t, h, exchange{api: api, method: "GET", query: map[string]string{"external_userid": "woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA", "cursor": "CURSOR"}})
	assertEqual(t, got, &ExternalContactDetail{
		ExternalContact: ExternalContact{
			ExternalUserID: "woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA", Name: "李四", Position: "Manager",
			Avatar: "https://p.qlogo.cn/bizmail/IcsdgagqefergqerhewSdage/0", CorpName: "腾讯", CorpFullName: "腾讯科技有限公司",
			Type: ContactWeCom, Gender: GenderMale, UnionID: "ozynqsulJFCZ2z1aYeS8h-nuasdAAA",
			ExternalProfile: &ExternalProfile{ExternalAttr: []ExternalAttr{
				{Type: 0, Name: "文本名称", Text: &ExternalAttrText{Value: "文本"}},
				{Type: 1, Name: "网页名称", Web: &ExternalAttrWeb{URL: "http://www.test.com", Title: "标题"}},
				{Type: 2, Name: "测试app", Miniprogram: &ExternalAttrMiniApp{AppID: "wx8bd80126147dFAKE", PagePath: "/index", Title: "my miniprogram"}},
			}},
		},
		FollowUser: []FollowUser{
			{
				UserID: "rocky", Remark: "李部长", Description: "对接采购事务", CreateTime: 1525779812,
				Tags: []FollowTag{
					{GroupName: "标签分组名称", TagName: "标签名称", TagID: "etAJ2GCAAAXtWyujaWJHDDGi0mACHAAA", Type: 1},
					{GroupName: "标签分组名称", TagName: "标签名称", Type: 2},
				},
				RemarkCorpName: "腾讯科技", RemarkMobiles: []string{"13800000001", "13000000002"}, OperUserID: "rocky",
				AddWay: AddWayQRCode, WechatChannels: &FollowWechatChannel{Nickname: "视频号名称", Source: 1},
			},
			{
				UserID: "tommy", Remark: "李总", Description: "采购问题咨询", CreateTime: 1525881637, State: "外联二维码1",
				OperUserID: "woAJ2GCAAAd1asdasdjO4wKmE8Aabj9AAA", AddWay: AddWayCardShare,
			},
		},
		NextCursor: "NEXT_CURSOR",
	})
}

func TestGetExternalContactFirstPageSendsNoCursor(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.handleValid("externalcontact/get", answerFile(t, "externalcontact_get.response.json"))
	if _, err := h.GetExternalContact(context.Background(), "wmX", ""); err != nil {
		t.Fatal(err)
	}
	checkExchange(t, h, exchange{api: "externalcontact/get", method: "GET", query: map[string]string{"external_userid": "wmX"}})
}

func TestCorpTagList(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/get_corp_tag_list"
	h.fake.handleValid(api, answerFile(t, "get_corp_tag_list.response.json"))
	got, err := h.CorpTagList(context.Background(), []string{"etXXXXXXXXXX", "etYYYYYYYYYY"}, []string{"etZZZZZZZZZZZZZ", "etYYYYYYYYYYYYY"})
	if err != nil {
		t.Fatal(err)
	}
	checkExchange(t, h, exchange{api: api, method: "POST", bodyFile: "get_corp_tag_list.request.json"})
	assertEqual(t, got, []TagGroup{{
		GroupID: "TAG_GROUPID1", GroupName: "GOURP_NAME", CreateTime: 1557838797, Order: 1,
		Tag: []Tag{
			{ID: "TAG_ID1", Name: "NAME1", CreateTime: 1557838797, Order: 1},
			{ID: "TAG_ID2", Name: "NAME2", CreateTime: 1557838797, Order: 2, Deleted: true},
		},
	}})
}

func TestCorpTagListAllSendsEmptyObject(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/get_corp_tag_list"
	h.fake.handleValid(api, answerFile(t, "get_corp_tag_list.response.json"))
	if _, err := h.CorpTagList(context.Background(), nil, nil); err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, h.fake.requestsTo(api)[0].Body, []byte(`{}`))
}

func TestAddCorpTag(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/add_corp_tag"
	h.fake.handleValid(api, answerFile(t, "add_corp_tag.response.json"))
	got, err := h.AddCorpTag(context.Background(), AddCorpTagRequest{
		GroupID: "GROUP_ID", GroupName: "GROUP_NAME", Order: 1,
		Tag:     []AddCorpTag{{Name: "TAG_NAME_1", Order: 1}, {Name: "TAG_NAME_2", Order: 2}},
		AgentID: 1000014,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkExchange(t, h, exchange{api: api, method: "POST", bodyFile: "add_corp_tag.request.json"})
	assertEqual(t, got, &TagGroup{
		GroupID: "TAG_GROUPID1", GroupName: "GOURP_NAME", CreateTime: 1557838797, Order: 1,
		Tag: []Tag{
			{ID: "TAG_ID1", Name: "NAME1", CreateTime: 1557838797, Order: 1},
			{ID: "TAG_ID2", Name: "NAME2", CreateTime: 1557838797, Order: 2},
		},
	})
}

func TestWriteEndpoints(t *testing.T) {
	order := 1
	for _, tc := range []struct {
		api, bodyFile string
		call          func(*Client) error
	}{
		{"externalcontact/edit_corp_tag", "edit_corp_tag.request.json", func(c *Client) error {
			return c.EditCorpTag(context.Background(), EditCorpTagRequest{ID: "TAG_ID", Name: "NEW_TAG_NAME", Order: &order, AgentID: 1000014})
		}},
		{"externalcontact/del_corp_tag", "del_corp_tag.request.json", func(c *Client) error {
			return c.DelCorpTag(context.Background(), []string{"TAG_ID_1", "TAG_ID_2"}, []string{"GROUP_ID_1", "GROUP_ID_2"})
		}},
		{"externalcontact/mark_tag", "mark_tag.request.json", func(c *Client) error {
			return c.MarkTag(context.Background(), MarkTagRequest{UserID: "zhangsan", ExternalUserID: "woAJ2GCAAAd1NPGHKSD4wKmE8Aabj9AAA",
				AddTag: []string{"TAGID1", "TAGID2"}, RemoveTag: []string{"TAGID3", "TAGID4"}})
		}},
		{"externalcontact/remark", "remark.request.json", func(c *Client) error {
			return c.Remark(context.Background(), RemarkRequest{UserID: "zhangsan", ExternalUserID: "woAJ2GCAAAd1asdasdjO4wKmE8Aabj9AAA",
				Remark: "备注信息", Description: "描述信息", RemarkCompany: "腾讯科技", RemarkMobiles: []string{"13800000001", "13800000002"},
				RemarkPicMediaID: "MEDIAID"})
		}},
	} {
		t.Run(tc.api, func(t *testing.T) {
			h := newHarness(t, nil)
			h.fake.handleValid(tc.api, answerFile(t, "ok.response.json"))
			if err := tc.call(h.Client); err != nil {
				t.Fatal(err)
			}
			checkExchange(t, h, exchange{api: tc.api, method: "POST", bodyFile: tc.bodyFile})
			// The same call answered with an error gives the typed error.
			h.fake.handleValid(tc.api, answerCodes("", CodeNoRelation))
			err := tc.call(h.Client)
			var we *Error
			if !errors.As(err, &we) || we.Code != CodeNoRelation || we.API != tc.api {
				t.Errorf("err = %v; want *Error %d from %s", err, CodeNoRelation, tc.api)
			}
		})
	}
}

func TestEditCorpTagSendsOnlyWhatChanges(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/edit_corp_tag"
	h.fake.handleValid(api, answerFile(t, "ok.response.json"))
	zero := 0
	if err := h.EditCorpTag(context.Background(), EditCorpTagRequest{ID: "T", Order: &zero}); err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, h.fake.requestsTo(api)[0].Body, []byte(`{"id":"T","order":0}`))
}

func TestRemarkClearsMobilesWithOneEmptyString(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/remark"
	h.fake.handleValid(api, answerFile(t, "ok.response.json"))
	if err := h.Remark(context.Background(), RemarkRequest{UserID: "u", ExternalUserID: "wm", RemarkMobiles: []string{""}}); err != nil {
		t.Fatal(err)
	}
	assertJSONEqual(t, h.fake.requestsTo(api)[0].Body, []byte(`{"userid":"u","external_userid":"wm","remark_mobiles":[""]}`))
}

func TestArgumentsAreCheckedBeforeAnyCall(t *testing.T) {
	ctx := context.Background()
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("u%d", i)
	}
	tooBig := 1 << 32
	negative := -1
	for _, tc := range []struct {
		name string
		call func(*Client) error
		want string
	}{
		{"user empty", func(c *Client) error { _, err := c.GetUser(ctx, ""); return err }, "userid is empty"},
		{"user long", func(c *Client) error { _, err := c.GetUser(ctx, strings.Repeat("a", 65)); return err }, "at most 64"},
		{"batch none", func(c *Client) error { _, err := c.BatchGetByUser(ctx, nil, "", 0); return err }, "at least one userid"},
		{"batch 101", func(c *Client) error { _, err := c.BatchGetByUser(ctx, many, "", 0); return err }, "at most 100 userids, not 101"},
		{"batch empty id", func(c *Client) error { _, err := c.BatchGetByUser(ctx, []string{"a", ""}, "", 0); return err }, "userid 2 of the list is empty"},
		{"batch limit 101", func(c *Client) error { _, err := c.BatchGetByUser(ctx, []string{"a"}, "", 101); return err }, "limit is 101"},
		{"batch limit -1", func(c *Client) error { _, err := c.BatchGetByUser(ctx, []string{"a"}, "", -1); return err }, "limit is -1"},
		{"contact empty", func(c *Client) error { _, err := c.GetExternalContact(ctx, "", ""); return err }, "external_userid is empty"},
		{"remark nothing", func(c *Client) error { return c.Remark(ctx, RemarkRequest{UserID: "u", ExternalUserID: "wm"}) }, "set at least one"},
		{"remark 21", func(c *Client) error {
			return c.Remark(ctx, RemarkRequest{UserID: "u", ExternalUserID: "wm", Remark: strings.Repeat("备", 21)})
		}, "remark is 21 characters long; WeCom allows at most 20"},
		{"remark 20 chinese is fine but description 151", func(c *Client) error {
			return c.Remark(ctx, RemarkRequest{UserID: "u", ExternalUserID: "wm", Remark: strings.Repeat("备", 20), Description: strings.Repeat("x", 151)})
		}, "description is 151 characters long; WeCom allows at most 150"},
		{"remark company 21", func(c *Client) error {
			return c.Remark(ctx, RemarkRequest{UserID: "u", ExternalUserID: "wm", RemarkCompany: strings.Repeat("c", 21)})
		}, "remark company is 21 characters long"},
		{"remark no member", func(c *Client) error { return c.Remark(ctx, RemarkRequest{ExternalUserID: "wm", Remark: "r"}) }, "userid is empty"},
		{"add no tags", func(c *Client) error { _, err := c.AddCorpTag(ctx, AddCorpTagRequest{GroupName: "g"}); return err }, "at least one tag"},
		{"add empty name", func(c *Client) error {
			_, err := c.AddCorpTag(ctx, AddCorpTagRequest{GroupName: "g", Tag: []AddCorpTag{{Name: ""}}})
			return err
		}, "tag name is empty"},
		{"add long name", func(c *Client) error {
			_, err := c.AddCorpTag(ctx, AddCorpTagRequest{GroupName: "g", Tag: []AddCorpTag{{Name: strings.Repeat("标", 31)}}})
			return err
		}, "tag name is 31 characters long; WeCom allows at most 30"},
		{"add long group", func(c *Client) error {
			_, err := c.AddCorpTag(ctx, AddCorpTagRequest{GroupName: strings.Repeat("g", 31), Tag: []AddCorpTag{{Name: "t"}}})
			return err
		}, "tag group name is 31 characters long"},
		{"add order", func(c *Client) error {
			_, err := c.AddCorpTag(ctx, AddCorpTagRequest{GroupID: "g", Tag: []AddCorpTag{{Name: "t", Order: tooBig}}})
			return err
		}, "tag order 4294967296 is out of range"},
		{"edit no id", func(c *Client) error { return c.EditCorpTag(ctx, EditCorpTagRequest{Name: "n"}) }, "needs the ID"},
		{"edit nothing", func(c *Client) error { return c.EditCorpTag(ctx, EditCorpTagRequest{ID: "t"}) }, "needs a new name or order"},
		{"edit order", func(c *Client) error { return c.EditCorpTag(ctx, EditCorpTagRequest{ID: "t", Order: &negative}) }, "tag order -1 is out of range"},
		{"del nothing", func(c *Client) error { return c.DelCorpTag(ctx, nil, nil) }, "needs a tag ID or a group ID"},
		{"mark nothing", func(c *Client) error { return c.MarkTag(ctx, MarkTagRequest{UserID: "u", ExternalUserID: "wm"}) }, "a tag to add or to remove"},
		{"mark no customer", func(c *Client) error { return c.MarkTag(ctx, MarkTagRequest{UserID: "u", AddTag: []string{"t"}}) }, "external_userid is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			err := tc.call(h.Client)
			if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), tc.want) {
				t.Fatalf("err = %v; want EINVALID with %q", err, tc.want)
			}
			if n := h.fake.count("gettoken"); n != 0 {
				t.Errorf("a rejected argument still reached WeCom")
			}
		})
	}
}

// batchPager serves batch/get_by_user in pages of size from a list of
// customers per member.
func batchPager(t *testing.T, customers map[string]int, size int, unlicensed map[string]bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			UserIDList []string `json:"userid_list"`
			Cursor     string   `json:"cursor"`
			Limit      int      `json:"limit"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Error(err)
		}
		if in.Limit != MaxBatchLimit || len(in.UserIDList) > MaxBatchUsers {
			t.Errorf("request of %d userids with limit %d", len(in.UserIDList), in.Limit)
		}
		var all []ExternalContactWithFollow
		var fail []string
		for _, u := range in.UserIDList {
			if unlicensed[u] {
				fail = append(fail, u)
				continue
			}
			for i := range customers[u] {
				all = append(all, ExternalContactWithFollow{
					ExternalContact: ExternalContact{ExternalUserID: fmt.Sprintf("wm-%s-%d", u, i)},
					FollowInfo:      FollowInfo{UserID: u},
				})
			}
		}
		if len(fail) == len(in.UserIDList) {
			writeJSON(w, map[string]any{"errcode": CodeUnlicensed, "errmsg": "no license"})
			return
		}
		start := 0
		fmt.Sscanf(in.Cursor, "c%d", &start)
		end := min(start+size, len(all))
		out := BatchGetByUserResult{ExternalContactList: all[start:end]}
		if end < len(all) {
			out.NextCursor = fmt.Sprintf("c%d", end)
		}
		if len(fail) > 0 {
			out.FailInfo = &BatchFailInfo{UnlicensedUserIDList: fail}
		}
		writeJSON(w, out)
	}
}

func TestAllByUserFollowsCursorAcrossGroups(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/batch/get_by_user"
	customers := map[string]int{}
	var members []string
	for i := range 150 { // two groups of userids: 100 and 50
		u := fmt.Sprintf("m%03d", i)
		members = append(members, u)
		customers[u] = i % 3
	}
	h.fake.handleValid(api, batchPager(t, customers, 40, nil))
	seen := map[string]bool{}
	err := h.AllByUser(context.Background(), members, func(c ExternalContactWithFollow) error {
		key := c.FollowInfo.UserID + "/" + c.ExternalContact.ExternalUserID
		if seen[key] {
			t.Errorf("%s delivered twice", key)
		}
		seen[key] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, n := range customers {
		want += n
	}
	if len(seen) != want {
		t.Errorf("delivered %d relationships; want %d", len(seen), want)
	}
	// Group 1: 99 relationships in pages of 40 (3 pages); group 2: 51 (2 pages).
	reqs := h.fake.requestsTo(api)
	if len(reqs) != 5 {
		t.Errorf("made %d requests; want 5", len(reqs))
	}
	var cursors []string
	for _, r := range reqs {
		var in struct{ Cursor string }
		json.Unmarshal(r.Body, &in)
		cursors = append(cursors, in.Cursor)
	}
	if fmt.Sprint(cursors) != "[ c40 c80  c40]" {
		t.Errorf("cursors sent: %q", cursors)
	}
}

func TestAllByUserReportsUnlicensedMembers(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/batch/get_by_user"
	var members []string
	customers := map[string]int{}
	unlicensed := map[string]bool{"m001": true}
	for i := range 200 {
		u := fmt.Sprintf("m%03d", i)
		members = append(members, u)
		customers[u] = 1
		if i >= 100 {
			unlicensed[u] = true // the whole second group: WeCom answers 701008
		}
	}
	h.fake.handleValid(api, batchPager(t, customers, 100, unlicensed))
	n := 0
	err := h.AllByUser(context.Background(), members, func(ExternalContactWithFollow) error { n++; return nil })
	var ue *UnlicensedError
	if !errors.As(err, &ue) || len(ue.UserIDs) != 101 || ue.UserIDs[0] != "m001" {
		t.Fatalf("err = %v; want 101 unlicensed members", err)
	}
	if n != 99 {
		t.Errorf("delivered %d; want the 99 licensed members' customers", n)
	}
	if !strings.Contains(err.Error(), "101 member(s)") || !strings.Contains(err.Error(), "and 96 more") {
		t.Errorf("error text: %v", err)
	}
}

func TestAllByUserStops(t *testing.T) {
	api := "externalcontact/batch/get_by_user"
	t.Run("on fn's error", func(t *testing.T) {
		h := newHarness(t, nil)
		h.fake.handleValid(api, batchPager(t, map[string]int{"a": 10}, 3, nil))
		stop := errors.New("stop")
		n := 0
		err := h.AllByUser(context.Background(), []string{"a"}, func(ExternalContactWithFollow) error {
			n++
			if n == 4 {
				return stop
			}
			return nil
		})
		if err != stop || n != 4 || h.fake.count(api) != 2 {
			t.Errorf("err %v after %d items and %d requests", err, n, h.fake.count(api))
		}
	})
	t.Run("on a cursor that does not advance", func(t *testing.T) {
		h := newHarness(t, nil)
		h.fake.handleValid(api, answerCodes(`{"errcode":0,"errmsg":"ok","external_contact_list":[],"next_cursor":"same"}`))
		err := h.AllByUser(context.Background(), []string{"a"}, func(ExternalContactWithFollow) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "did not advance") || h.fake.count(api) != 2 {
			t.Errorf("err %v after %d requests", err, h.fake.count(api))
		}
	})
	t.Run("on WeCom's error", func(t *testing.T) {
		h := newHarness(t, nil)
		h.fake.handleValid(api, answerCodes("", CodeNoPermission))
		err := h.AllByUser(context.Background(), []string{"a"}, func(ExternalContactWithFollow) error { return nil })
		if ErrorCode(err) != CodeNoPermission {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no members", func(t *testing.T) {
		h := newHarness(t, nil)
		if err := h.AllByUser(context.Background(), nil, nil); err != nil || h.fake.count(api) != 0 {
			t.Errorf("err %v, %d requests", err, h.fake.count(api))
		}
	})
}
