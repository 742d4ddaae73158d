package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestMomentCampaignFromTheConsole: the campaign form takes a customer
// moment with attachments and sending members, refuses what a moment
// cannot take saying why, and the campaign page shows the moments by
// member with their read-only likes and comments, and says there is no
// remind API (no remind button).
func TestMomentCampaignFromTheConsole(t *testing.T) {
	sb, in := sandboxInstance(t, 10)
	c := newClient(t, in)
	c.login("owner", "correct horse battery staple")
	syncWithButton(t, c)
	tag := sb.TagGroups()[0].Tags[0].Name
	member := sb.Members()[0].UserID
	valid := func() url.Values {
		return url.Values{"name": {"朋友圈上新"}, "purpose": {"marketing"}, "channel": {"wecom_moment"}, "text": {"春季新品到店"}, "tags": {tag},
			"attachments": {"image media-1\nimage media-2"}, "members": {member}, "schedule": {"now"}}
	}
	for _, tc := range []struct {
		name string
		edit func(url.Values)
		want string
	}{
		{"image and video", func(v url.Values) { v.Set("attachments", "image m1\nvideo v1") }, "not a mix"},
		{"ten images", func(v url.Values) { v.Set("attachments", strings.Repeat("image m\n", 10)) }, "at most 9"},
		{"a file", func(v url.Values) { v.Set("attachments", "file f1") }, "an image, a video or a link"},
		{"unreadable line", func(v url.Values) { v.Set("attachments", "gif x") }, "line 1"},
		{"text too long", func(v url.Values) { v.Set("text", strings.Repeat("字", 2001)) }, "at most 2000"},
		{"members on sms", func(v url.Values) {
			v.Set("channel", "sms")
			v.Set("sign", "小店")
			v.Set("template_id", "1001")
			v.Set("text", "新品到店，拒收请回复R")
			v.Del("attachments")
		}, "WeCom campaigns only"},
	} {
		v := valid()
		tc.edit(v)
		resp, body := c.form("/campaigns", v, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) || !strings.Contains(body, `id="campaign-form-error"`) {
			t.Errorf("%s: %d, want 400 with %q", tc.name, resp.StatusCode, tc.want)
		}
	}
	list := c.get("/campaigns", 200)
	mustContain(t, "form", list, `id="campaign-attachments"`, `id="campaign-members"`, `value="wecom_moment"`)
	resp, _ := c.form("/campaigns", valid(), nil)
	page := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !campaignPageRe.MatchString(page) {
		t.Fatalf("create: %d %q", resp.StatusCode, page)
	}
	body := c.get(page, 200)
	mustContain(t, "draft", body, "WeCom customer moment", `id="campaign-moments"`, `id="campaign-moments-noremind"`, "no API to remind")
	if strings.Contains(body, `id="campaign-remind-submit"`) {
		t.Error("a moment campaign offers to remind")
	}
	// A batch's moment as the channel records it: shown with its counts.
	db := mustStore(t, in)
	id := strings.TrimPrefix(page, "/campaigns/")
	now := time.Now().UTC()
	if _, err := db.W.ExecContext(context.Background(), `INSERT INTO campaign_batches (campaign_id, sender, state, size, provider_id, marked_at) VALUES ($1, $2, 'settled', 3, 'mom1', $3)`,
		id, member, now); err != nil {
		t.Fatal(err)
	}
	var batch int64
	db.R.QueryRowContext(context.Background(), "SELECT id FROM campaign_batches WHERE campaign_id = $1", id).Scan(&batch)
	if _, err := db.W.ExecContext(context.Background(), `INSERT INTO moment_tasks (batch_id, campaign_id, sender, tag_id, tagged, job_id, moment_id, published_at, likes, comments, stats_at, created_at)
		VALUES ($1, $2, $3, 'et1', 3, 'job1', 'mom1', $4, 2, 1, $4, $4)`, batch, id, member, now); err != nil {
		t.Fatal(err)
	}
	body = c.get(page, 200)
	mustContain(t, "moments", body, `id="campaign-moments-table"`, `id="moment-likes-0">2<`, `id="moment-comments-0">1<`, member, "Kith never likes or comments")
}
