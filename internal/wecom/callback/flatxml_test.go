package callback

import (
	"reflect"
	"testing"
)

// flatSeeds are documents of the flat shape and near misses of it.
var flatSeeds = []string{
	vecBMsg,
	"<xml><ToUserName><![CDATA[ww]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[del_follow_user]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[wmXXX]]></ExternalUserID></xml>",
	"<xml><MsgType>event</MsgType><Event>change_external_chat</Event><MemChangeList><Item>a</Item><Item><![CDATA[b]]></Item></MemChangeList><MemChangeCnt> 2 </MemChangeCnt></xml>",
	"<xml><MemChangeList><Item>a</Item></MemChangeList><MemChangeList><Item>c</Item><Other>x</Other>text</MemChangeList></xml>",
	"<xml><MemChangeList></MemChangeList></xml>",
	"<xml><MemChangeList><Item><b>x</b></Item></MemChangeList></xml>",
	"<xml><Id>x</Id><TagType>tag</TagType><StrategyId>1</StrategyId><JoinScene>3</JoinScene><QuitScene>+1</QuitScene></xml>",
	"<xml><CreateTime>-1</CreateTime><AgentID></AgentID></xml>",
	"<xml><CreateTime>  </CreateTime></xml>",
	"<xml><CreateTime>12x</CreateTime></xml>",
	"<xml><JoinScene>99999999999999999999</JoinScene></xml>",
	"<xml><UserID>a<![CDATA[b]]>c</UserID><UserID>last</UserID></xml>",
	"<xml><UserID>a<b>x</b>c</UserID></xml>",
	"<xml><Unknown><Deep><Deeper>x</Deeper></Deep></Unknown><UserID>u</UserID></xml>",
	"<xml><UserID>&lt;x&gt;</UserID></xml>",
	"<xml><UserID>a]]>b</UserID></xml>",
	"<xml><UserID><![CDATA[a]]>b]]></UserID></xml>",
	"<xml><UserID>line\r\nbreak</UserID></xml>",
	"<xml><UserID>张三</UserID><Content>\xff</Content></xml>",
	"<xml><UserID>\x01</UserID></xml>",
	"<xml><UserID a=\"1\">x</UserID></xml>",
	"<xml><UserID/></xml>",
	"<xml><UserID>x</UserId></xml>",
	"<xml><UserID>x</UserID>",
	"<xml><!-- c --><UserID>x</UserID></xml>",
	"<?xml version=\"1.0\"?><xml><UserID>x</UserID></xml>",
	"  \n<xml><UserID>x</UserID></xml>trailing <junk",
	"<xml></xml>",
	"<notxml><UserID>x</UserID></notxml>",
	"<xml><xml><UserID>x</UserID></xml></xml>",
	"<xml><a:UserID>x</a:UserID></xml>",
	"<xml><ToUserName>corp</ToUserName><AgentID>1</AgentID><Encrypt><![CDATA[QUJD]]></Encrypt></xml>",
	"<xml><Encrypt></Encrypt></xml>",
	"<xml><Encrypt><x/></Encrypt></xml>",
	"",
}

// TestFlatXMLMatchesEncodingXML checks the fast path on the seeds: where it
// answers, it answers what encoding/xml does, and the usual shapes take it.
func TestFlatXMLMatchesEncodingXML(t *testing.T) {
	for _, s := range flatSeeds {
		checkFlat(t, []byte(s))
	}
	for _, s := range flatSeeds[:4] {
		if _, ok := parseEventFlat([]byte(s)); !ok {
			t.Errorf("the fast path gave up on %q", s)
		}
	}
	if _, ok := parseEnvelopeFlat([]byte(flatSeeds[31])); !ok {
		t.Errorf("the fast path gave up on the envelope %q", flatSeeds[31])
	}
	for _, s := range []string{"<xml><UserID>&lt;x&gt;</UserID></xml>", "<xml><UserID>a<b>x</b>c</UserID></xml>", "<xml><UserID>line\r\nbreak</UserID></xml>"} {
		if _, ok := parseEventFlat([]byte(s)); ok {
			t.Errorf("the fast path took %q, which encoding/xml must read", s)
		}
	}
}

// checkFlat compares the fast parsers with encoding/xml on one document.
func checkFlat(t *testing.T, data []byte) {
	t.Helper()
	if fast, ok := parseEventFlat(data); ok {
		slow, err := parseEventXML(data)
		if err != nil {
			t.Fatalf("fast path read %q, encoding/xml refuses it: %v", data, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("on %q\nfast path: %+v\nencoding/xml: %+v", data, fast, slow)
		}
	}
	if fast, ok := parseEnvelopeFlat(data); ok {
		slow, err := parseEnvelopeXML(data)
		if err != nil && fast.Encrypt != "" || err == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("envelope %q\nfast path: %+v\nencoding/xml: %+v %v", data, fast, slow, err)
		}
	}
}

// FuzzFlatXML checks that wherever the fast path answers, it answers what
// encoding/xml does.
func FuzzFlatXML(f *testing.F) {
	for _, s := range flatSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkFlat(t, data) })
}

func BenchmarkParseEvent(b *testing.B) {
	data := []byte(flatSeeds[1])
	b.Run("flat", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseEvent(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/xml", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseEventXML(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
