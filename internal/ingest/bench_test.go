package ingest_test

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/store/storetest"
	"github.com/kith-scrm/kith/internal/wecom/callback"
)

// BenchmarkAccept measures the intake alone: 32 callers at once storing
// distinct events, each answered after its batch committed, with dedupe
// keys made as the callback handler makes them. Besides wall time per event it reports the process's CPU time per
// event (cpu-µs/op), the steadier figure on a shared machine.
func BenchmarkAccept(b *testing.B) {
	db := storetest.MustSQLite(b)
	{
		svc := setup(b, db, &fakeApplier{})
		var n atomic.Int64
		body := []byte(`<xml><ToUserName><![CDATA[ww]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[del_follow_user]]></ChangeType><UserID><![CDATA[bench01]]></UserID><ExternalUserID><![CDATA[wmbench00000001]]></ExternalUserID></xml>`)
		b.SetParallelism(16)
		b.ResetTimer()
		cpu0 := processCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var seed [8]byte
				binary.BigEndian.PutUint64(seed[:], uint64(n.Add(1)))
				key := callback.DedupeKey(time.Now().Unix(), seed[:])
				if _, _, err := svc.Accept(context.Background(), ingest.Inbound{Source: "wecom", DedupeKey: key, Kind: "unknown", Body: body}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}
