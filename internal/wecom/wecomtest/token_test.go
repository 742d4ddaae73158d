package wecomtest

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func gettoken(t *testing.T, srv *Server, corpID, secret string) resp {
	t.Helper()
	q := url.Values{}
	if corpID != "" {
		q.Set("corpid", corpID)
	}
	if secret != "" {
		q.Set("corpsecret", secret)
	}
	return call(t, srv, http.MethodGet, "/cgi-bin/gettoken", q, nil)
}

func TestGetToken(t *testing.T) {
	srv, clock := start(t, Options{CorpID: "wwtestcorp", Secret: "s3cret"})

	r := gettoken(t, srv, "wwtestcorp", "s3cret")
	wantCode(t, r, CodeOK)
	if r.str("errmsg") != "ok" || r.num("expires_in") != 7200 || r.str("access_token") == "" {
		t.Fatalf("gettoken = %v, want ok, expires_in 7200 and a token", r)
	}
	tok := r.str("access_token")

	t.Run("same token within validity", func(t *testing.T) {
		clock.Add(time.Hour)
		r := gettoken(t, srv, "wwtestcorp", "s3cret")
		if r.str("access_token") != tok {
			t.Fatalf("second gettoken gave a new token")
		}
		if r.num("expires_in") != 3600 {
			t.Fatalf("expires_in = %d, want the 3600 s left", r.num("expires_in"))
		}
	})

	t.Run("token works", func(t *testing.T) {
		r := call(t, srv, http.MethodGet, "/cgi-bin/externalcontact/get_follow_user_list", url.Values{"access_token": {tok}}, nil)
		wantCode(t, r, CodeOK)
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name, corp, secret string
			code               int
		}{
			{"wrong corpid", "wwother", "s3cret", CodeInvalidCorpID},
			{"wrong secret", "wwtestcorp", "nope", CodeInvalidSecret},
			{"missing corpid", "", "s3cret", CodeCorpIDMissing},
			{"missing secret", "wwtestcorp", "", CodeSecretMissing},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := gettoken(t, srv, tc.corp, tc.secret)
				wantCode(t, r, tc.code)
				if r.str("access_token") != "" {
					t.Fatal("an error answer carried a token")
				}
			})
		}
	})

	t.Run("missing, unknown and expired tokens", func(t *testing.T) {
		path := "/cgi-bin/externalcontact/get_follow_user_list"
		wantCode(t, call(t, srv, http.MethodGet, path, nil, nil), CodeTokenMissing)
		wantCode(t, call(t, srv, http.MethodGet, path, url.Values{"access_token": {"forged"}}, nil), CodeInvalidToken)
		clock.Add(time.Hour) // two hours after issue: expired
		wantCode(t, call(t, srv, http.MethodGet, path, url.Values{"access_token": {tok}}, nil), CodeTokenExpired)
		r := gettoken(t, srv, "wwtestcorp", "s3cret")
		if r.str("access_token") == tok || r.num("expires_in") != 7200 {
			t.Fatalf("after expiry gettoken = %v, want a new token for 7200 s", r)
		}
		wantCode(t, call(t, srv, http.MethodGet, path, url.Values{"access_token": {r.str("access_token")}}, nil), CodeOK)
	})

	t.Run("revoked early", func(t *testing.T) {
		tok := srv.AccessToken()
		srv.RevokeTokens()
		wantCode(t, call(t, srv, http.MethodGet, "/cgi-bin/user/get", url.Values{"access_token": {tok}, "userid": {"x"}}, nil), CodeInvalidToken)
	})
}

func TestTokenTTLConfigurable(t *testing.T) {
	srv, clock := start(t, Options{TokenTTL: time.Minute})
	r := gettoken(t, srv, srv.CorpID(), srv.Secret())
	if r.num("expires_in") != 60 {
		t.Fatalf("expires_in = %d, want 60", r.num("expires_in"))
	}
	clock.Add(time.Minute)
	wantCode(t, call(t, srv, http.MethodGet, "/cgi-bin/user/get", url.Values{"access_token": {r.str("access_token")}}, nil), CodeTokenExpired)
}

func TestRateLimit(t *testing.T) {
	srv, clock := start(t, Options{RateLimitPerMinute: 3})
	path := "/cgi-bin/externalcontact/get_follow_user_list"
	for i := range 3 {
		if r := get(t, srv, path); r.code() != CodeOK {
			t.Fatalf("call %d: errcode %d", i+1, r.code())
		}
	}
	wantCode(t, get(t, srv, path), CodeFrequencyLimit)
	wantCode(t, get(t, srv, path), CodeFrequencyLimit)
	// The limit is per API.
	wantCode(t, get(t, srv, "/cgi-bin/user/get", "userid", "nobody"), CodeUserNotFound)
	// The block lasts until the minute ends.
	clock.Add(time.Minute)
	wantCode(t, get(t, srv, path), CodeOK)
}

func TestRateLimitPerHour(t *testing.T) {
	srv, clock := start(t, Options{RateLimitPerMinute: 100, RateLimitPerHour: 4})
	path := "/cgi-bin/externalcontact/get_follow_user_list"
	for range 4 {
		wantCode(t, get(t, srv, path), CodeOK)
		clock.Add(time.Second)
	}
	wantCode(t, get(t, srv, path), CodeFrequencyLimit)
	clock.Add(time.Hour)
	wantCode(t, get(t, srv, path), CodeOK)
}

func TestInjectFault(t *testing.T) {
	srv, _ := start(t, Options{})
	path := "/cgi-bin/externalcontact/get_follow_user_list"
	if err := srv.InjectFault(path, CodeBusy, 2); err != nil {
		t.Fatal(err)
	}
	wantCode(t, get(t, srv, path), CodeBusy)
	wantCode(t, get(t, srv, path), CodeBusy)
	wantCode(t, get(t, srv, path), CodeOK)

	if err := srv.InjectFault(path, CodeConcurrencyLimit, 1); err != nil {
		t.Fatal(err)
	}
	wantCode(t, get(t, srv, path), CodeConcurrencyLimit)
	wantCode(t, get(t, srv, path), CodeOK)

	if err := srv.InjectFault("/cgi-bin/nope", CodeBusy, 1); err == nil {
		t.Fatal("a fault on an unknown API was accepted")
	}
	if err := srv.InjectFault(path, CodeOK, 1); err == nil {
		t.Fatal("errcode 0 was accepted as a fault")
	}
}

func TestRequestErrors(t *testing.T) {
	srv, _ := start(t, Options{})

	t.Run("unknown path is 404 with errcode", func(t *testing.T) {
		res, err := http.Get(srv.URL + "/cgi-bin/externalcontact/no_such_api?access_token=" + srv.AccessToken())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d, want 404", res.StatusCode)
		}
		wantCode(t, get(t, srv, "/cgi-bin/externalcontact/no_such_api"), CodeAPINotFound)
	})
	t.Run("bad JSON", func(t *testing.T) {
		r := post(t, srv, "/cgi-bin/externalcontact/mark_tag", `{"userid": "a",`)
		wantCode(t, r, CodeInvalidParameter)
	})
	t.Run("wrong JSON type", func(t *testing.T) {
		r := post(t, srv, "/cgi-bin/externalcontact/batch/get_by_user", `{"userid_list": "zhangsan"}`)
		wantCode(t, r, CodeInvalidParameter)
	})
	t.Run("GET on a POST API", func(t *testing.T) {
		wantCode(t, get(t, srv, "/cgi-bin/externalcontact/get_corp_tag_list"), CodeInvalidParameter)
	})
	t.Run("empty body on get_corp_tag_list lists everything", func(t *testing.T) {
		wantCode(t, post(t, srv, "/cgi-bin/externalcontact/get_corp_tag_list", nil), CodeOK)
	})
}
