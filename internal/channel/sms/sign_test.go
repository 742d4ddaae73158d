package sms

import "testing"

// TestTC3Signature checks signTC3 against the example of Tencent Cloud's
// "Signature v3" page (the asterisks are characters of the example's key).
func TestTC3Signature(t *testing.T) {
	payload := []byte(`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`)
	s := signTC3("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******", "cvm", "cvm.tencentcloudapi.com", 1551113065, payload)
	if s.payloadHash != "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064" {
		t.Errorf("payload hash = %s", s.payloadHash)
	}
	if s.canonicalHash != "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031" {
		t.Errorf("canonical request hash = %s", s.canonicalHash)
	}
	if s.signature != "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c" {
		t.Errorf("signature = %s", s.signature)
	}
	want := "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
	if s.authorization != want {
		t.Errorf("authorization = %s\nwant            %s", s.authorization, want)
	}
}

// TestAliyunSignatureV1 checks signV1 against Aliyun's SMS signature
// example and the generic RPC example.
func TestAliyunSignatureV1(t *testing.T) {
	cases := []struct {
		name, secret string
		params       map[string]string
		want         string
	}{
		{"SendSms", "testSecret", map[string]string{
			"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123", "PhoneNumbers": "15300000001",
			"RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
			"SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007",
			"TemplateParam": `{"customer":"test"}`, "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25",
		}, "zJDF+Lrzhj/ThnlvIToysFRq6t4="},
		{"DescribeRegions", "testsecret", map[string]string{
			"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML", "SignatureMethod": "HMAC-SHA1",
			"SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "SignatureVersion": "1.0",
			"Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26",
		}, "OLeaidS1JvxuMvnyHOwuJ+uX5qY="},
	}
	for _, c := range cases {
		if _, got := signV1("GET", c.secret, c.params); got != c.want {
			t.Errorf("%s: signature = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestAliyunEscape(t *testing.T) {
	for in, want := range map[string]string{"a b": "a%20b", "a*b": "a%2Ab", "a~b": "a~b", "/": "%2F", "阿": "%E9%98%BF", "a+b": "a%2Bb"} {
		if got := aliyunEscape(in); got != want {
			t.Errorf("aliyunEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
