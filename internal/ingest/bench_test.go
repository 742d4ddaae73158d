package ingest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// BenchmarkAccept measures the intake alone: 32 callers at once storing
// distinct events, each answered after its batch committed.
func BenchmarkAccept(b *testing.B) {
	db := storetest.MustSQLite(b)
	{
		svc := setup(b, db, &fakeApplier{})
		var n atomic.Int64
		body := []byte(`<xml><ToUserName><![CDATA[ww]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[del_follow_user]]></ChangeType><UserID><![CDATA[bench01]]></UserID><ExternalUserID><![CDATA[wmbench00000001]]></ExternalUserID></xml>`)
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				if _, _, err := svc.Accept(context.Background(), ingest.Inbound{Source: "wecom", DedupeKey: fmt.Sprint("key", i), Kind: "unknown", Body: body}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
}
