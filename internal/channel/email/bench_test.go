package email

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// benchMessage is a personalised campaign message of about 2.7 KB as sent
// (headers, DKIM signature, plain-text and HTML parts).
var benchMessage = Message{
	Class:   gate.Marketing,
	Subject: "{{name}}, the spring collection is in",
	Text: "Dear {{name}},\n\n" + strings.Repeat("The spring collection has arrived in store and online: linen shirts, light jackets and new colours.\n", 6) +
		"\nYour member number is {{member}}.\n",
	HTML: "<html><body><p>Dear {{name}},</p>" + strings.Repeat("<p>The spring collection has arrived in store and online: linen shirts, light jackets and new colours.</p>", 6) +
		"<p>Your member number is {{member}}.</p></body></html>",
}

func benchJobs(n int) []job {
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i] = job{i: i, id: fmt.Sprintf("%020x", i), to: consent.Email(fmt.Sprintf("user%d@example.com", i)),
			vars: Vars{"name": fmt.Sprintf("Customer %d", i), "member": fmt.Sprintf("M%08d", i)}}
	}
	return jobs
}

// BenchmarkCompose renders and DKIM-signs one message (no network).
func BenchmarkCompose(b *testing.B) {
	for _, algo := range []string{"ed25519", "rsa"} {
		b.Run(algo, func(b *testing.B) {
			key, _ := dkimKeys(b, algo)
			d, _ := NewDKIM("shop.example", "k1", key)
			c, err := NewComposer(testSender, d, testClock{})
			if err != nil {
				b.Fatal(err)
			}
			jobs := benchJobs(1000)
			var r rendered
			b.ReportAllocs()
			cpu := cpuTime()
			b.ResetTimer()
			for i := range b.N {
				j := jobs[i%len(jobs)]
				if err := c.compose(&r, j.id, j.to, benchMessage, j.vars); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e3, "cpu-µs/msg")
			b.ReportMetric(float64(r.head.Len()+r.body.Len()), "bytes/msg")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSendToSink renders, signs and sends messages to a go-smtp sink
// on this machine over Conns reused connections (the permits' claim is
// left out: see BenchmarkSendWithClaim). The sink shares the CPU.
func BenchmarkSendToSink(b *testing.B) {
	for _, conns := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("ed25519/conns=%d", conns), func(b *testing.B) {
			s, _ := startSink(b, NoTLS)
			s.keep = false
			key, _ := dkimKeys(b, "ed25519")
			d, _ := NewDKIM("shop.example", "k1", key)
			c, _ := NewComposer(testSender, d, testClock{})
			m, err := NewMailer(SMTPConfig{Addr: s.addr, TLS: NoTLS, Conns: conns, PerConn: 100000, Timeout: 10 * time.Second}, c, &channel.Claimer{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			jobs := benchJobs(b.N)
			results := make([]channel.Result, b.N)
			b.ReportAllocs()
			cpu := cpuTime()
			b.ResetTimer()
			m.run(context.Background(), benchMessage, jobs, results)
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e3, "cpu-µs/msg")
			for _, r := range results {
				if r.Status != channel.Sent {
					b.Fatalf("%+v", r)
				}
			}
			if got := s.count.Load(); got != int64(b.N) {
				b.Fatalf("sink received %d of %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSendWithClaim is the whole Send on SQLite: the permits (asked
// of the gate before the timer starts) are consumed in one transaction,
// then the messages are rendered, signed and sent to the sink.
func BenchmarkSendWithClaim(b *testing.B) {
	const batch = 500
	db := storetest.MustSQLite(b)
	f := newFixture(b, db, "ed25519", NoTLS, 4)
	f.sink.keep = false
	ctx := context.Background()
	sent := 0
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for sent < b.N {
		b.StopTimer()
		n := min(batch, b.N-sent)
		addrs := make([]string, n)
		vars := make([]Vars, n)
		for i := range addrs {
			addrs[i] = fmt.Sprintf("claim%d@example.com", sent+i)
			vars[i] = Vars{"name": "C", "member": "M1"}
		}
		ps := f.permits(b, benchMessage, vars, addrs...)
		b.StartTimer()
		start := cpuTime()
		res, err := f.mailer.Send(ctx, ps, benchMessage, vars)
		cpu += cpuTime() - start
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Status != channel.Sent {
				b.Fatalf("%+v", r)
			}
		}
		sent += n
	}
	b.ReportMetric(float64(cpu)/float64(b.N)/1e3, "cpu-µs/msg")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// cpuTime returns the CPU time (user and system) this process has used:
// on a machine shared with other work it says more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// testClock is a fixed clock for benchmarks.
type testClock struct{}

func (testClock) Now() time.Time { return wed10 }
