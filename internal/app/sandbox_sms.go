package app

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kith-scrm/kith/internal/channel/sms/smstest"
	"github.com/kith-scrm/kith/internal/providers"
	"github.com/kith-scrm/kith/internal/web"
)

// sandboxSMSReportDelay is how long the sandbox's SMS stand-in waits
// before it pushes a message's delivery report, as a carrier takes a
// moment.
const sandboxSMSReportDelay = 2 * time.Second

// sandboxSMSProvider is the SMS stand-in of `serve --sandbox` and its
// listener.
type sandboxSMSProvider struct {
	sb  *smstest.Server
	srv *http.Server
}

// Close stops the stand-in.
func (p *sandboxSMSProvider) Close() {
	p.srv.Close()
	p.sb.Close()
}

// sandboxSMS starts the Tencent Cloud SMS stand-in (smstest) of
// `serve --sandbox` and points the SMS settings at it whatever is saved:
// Tencent, the stand-in's keys and address. The saved signature and
// templates are the approved ones (demo ones when none are saved), and
// the stand-in pushes delivery reports and replies to this Kith
// (kithURL), at the addresses the console shows, so an SMS campaign runs
// end to end without the internet.
func sandboxSMS(prov *providers.Store, kithURL string, consentKey []byte, log *slog.Logger) (*sandboxSMSProvider, error) {
	reports, replies := web.SMSCallbackPaths(consentKey, providers.Tencent)
	var mu sync.Mutex
	var signs []string
	var templates map[string]string
	sb := smstest.New(smstest.Options{ReportURL: kithURL + reports, ReplyURL: kithURL + replies, ReportDelay: sandboxSMSReportDelay,
		Approved: func() ([]string, map[string]string) {
			mu.Lock()
			defer mu.Unlock()
			return signs, templates
		}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sb.Close()
		return nil, err
	}
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	endpoint := "http://" + ln.Addr().String()
	prev := prov.Fixed
	prov.Fixed = func(s *providers.Settings) {
		if prev != nil {
			prev(s)
		}
		v := &s.SMS
		v.Provider, v.SecretID, v.SecretKey, v.SdkAppID, v.Region, v.Endpoint, v.HasKey =
			providers.Tencent, smstest.SecretID, smstest.SecretKey, smstest.SdkAppID, "ap-guangzhou", endpoint, true
		if v.SignName == "" {
			v.SignName = "小店"
		}
		if len(v.Templates) == 0 {
			v.Templates = []providers.SMSTemplate{{ID: "1001", Text: "您的订单{1}已发货"}, {ID: "1002", Text: "您的会员积分已更新，详情请查看小程序"},
				{ID: "2001", Text: "春季新品到店，会员专享八折，拒收请回复R", Marketing: true}}
		}
		approved := map[string]string{}
		for _, t := range v.Templates {
			approved[t.ID] = t.Text
		}
		mu.Lock()
		signs, templates = []string{v.SignName}, approved
		mu.Unlock()
		s.Sandbox = true
	}
	log.Info("sandbox: campaign SMS goes to the local Tencent Cloud SMS stand-in", "addr", endpoint)
	return &sandboxSMSProvider{sb: sb, srv: srv}, nil
}
