package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kith-scrm/kith/internal/campaign"
)

// TestCampaignBenchEmail runs `kith bench campaign` small: every customer
// is planned, sent once through the Mailer and received by the sink.
func TestCampaignBenchEmail(t *testing.T) {
	heap := filepath.Join(t.TempDir(), "heap.prof")
	rep, err := Campaign(context.Background(), CampaignOptions{Recipients: 1200, Channel: campaign.Email, BatchSize: 500, Conns: 3, DataDir: t.TempDir(), MemProfile: heap})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Permitted != 1200 || rep.Refused != 0 {
		t.Fatalf("planned %d, refused %d; want 1200 and 0", rep.Permitted, rep.Refused)
	}
	if rep.Sent != 1200 || rep.NotSent != 0 || rep.SinkMessages != 1200 {
		t.Fatalf("sent %d (not sent %d), the sink got %d; want 1200 each", rep.Sent, rep.NotSent, rep.SinkMessages)
	}
	if rep.MessageBytes < 2000 || rep.MessageBytes > 4000 {
		t.Errorf("a message is %.0f bytes; the bench's is about 2.7 KB", rep.MessageBytes)
	}
	if rep.PlanSeconds <= 0 || rep.MessagesPerSecond <= 0 || rep.CPUSecondsPer100k <= 0 || rep.PeakMemoryMB <= 0 {
		t.Errorf("missing figures: %+v", rep)
	}
	if runtime.GOOS == "linux" && (rep.SendMemory.ResidentMB <= 0 || rep.SendMemory.HeapObjectMB <= 0) {
		t.Errorf("no memory sample while sending: %+v", rep.SendMemory)
	}
	if st, err := os.Stat(heap); err != nil || st.Size() == 0 {
		t.Errorf("the heap profile was not written: %v", err)
	}
}

// A memory sample's parts add up to the resident size: the Go runtime's
// resident classes plus what lies outside it and the mapped files.
func TestSampleMemory(t *testing.T) {
	keep := make([]byte, 32<<20)
	for i := range keep {
		keep[i] = 1
	}
	m, ok := sampleMemory()
	runtime.KeepAlive(keep)
	if _, err := os.Stat("/proc/self/status"); err != nil {
		if ok {
			t.Fatalf("a sample without /proc/self/status: %+v", m)
		}
		return // elsewhere the bench reports no breakdown
	}
	if !ok {
		t.Fatal("no sample")
	}
	if m.HeapObjectMB < 32 || m.ResidentMB < 32 || m.FileMB <= 0 || m.MetadataMB <= 0 || m.StacksMB <= 0 {
		t.Fatalf("sample with 32 MB held: %+v", m)
	}
	// Outside is clamped at zero, so the parts may only exceed the whole
	// (by what the runtime counts as resident but the kernel does not).
	if sum := m.HeapObjectMB + m.HeapFreeMB + m.GoOtherMB + m.OutsideMB + m.FileMB; sum < m.ResidentMB*0.98 {
		t.Errorf("the parts add to %.1f MB of %.1f MB resident: %+v", sum, m.ResidentMB, m)
	}
	if hwm := peakMemoryMB(); hwm < m.ResidentMB*0.98 {
		t.Errorf("peak resident %.1f MB below the resident %.1f MB sampled", hwm, m.ResidentMB)
	}
}

// TestCampaignBenchWeCom plans and sends a campaign to the sandbox: one
// task per member and batch, every customer in one.
func TestCampaignBenchWeCom(t *testing.T) {
	rep, err := Campaign(context.Background(), CampaignOptions{Recipients: 300, Channel: campaign.WeCom, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Permitted == 0 || rep.Sent != int64(rep.Permitted) || rep.Tasks == 0 {
		t.Fatalf("planned %d, sent %d in %d tasks", rep.Permitted, rep.Sent, rep.Tasks)
	}
}
