package bench

import (
	"bufio"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemoryAtPeak is what the process's resident memory was made of at the
// highest of the samples taken while sending (every 100 ms): the Go heap's
// objects (live or not yet collected), the heap's pages free but not yet
// returned to the system, the rest of the Go runtime's resident memory
// (stacks, metadata), and what is resident outside the Go runtime — the
// SQLite library's allocations and the program's mapped files.
type MemoryAtPeak struct {
	ResidentMB   float64 `json:"resident_mb"`
	HeapObjectMB float64 `json:"heap_objects_mb"`
	HeapLiveMB   float64 `json:"heap_live_mb"` // marked live by the last collection
	HeapFreeMB   float64 `json:"heap_free_mb"` // free pages not returned to the system
	GoOtherMB    float64 `json:"go_other_mb"`
	StacksMB     float64 `json:"stacks_mb"`   // goroutine stacks (part of GoOtherMB)
	MetadataMB   float64 `json:"metadata_mb"` // the runtime's own structures (part of GoOtherMB)
	FileMB       float64 `json:"file_mb"`     // mapped files resident (the program's code mostly)
	OutsideMB    float64 `json:"outside_mb"`  // anonymous memory the Go runtime does not account for
}

// memSampler samples the process's memory until stopped and keeps the
// sample with the highest resident size.
type memSampler struct {
	stop chan struct{}
	once sync.Once
	done sync.WaitGroup
	peak MemoryAtPeak
}

func startMemSampler() *memSampler {
	s := &memSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if m, ok := sampleMemory(); ok && m.ResidentMB > s.peak.ResidentMB {
				s.peak = m
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the peak sample (zero where
// /proc/self/status cannot be read); it may be called again.
func (s *memSampler) Stop() MemoryAtPeak {
	s.once.Do(func() { close(s.stop) })
	s.done.Wait()
	return s.peak
}

var memMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/total:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/os-stacks:bytes",
	"/memory/classes/metadata/mcache/inuse:bytes",
	"/memory/classes/metadata/mspan/inuse:bytes",
	"/memory/classes/metadata/other:bytes",
}

// sampleMemory reads the resident sizes and the Go runtime's classes.
func sampleMemory() (MemoryAtPeak, bool) {
	var rss, anon, file float64
	statusMB(map[string]*float64{"VmRSS": &rss, "RssAnon": &anon, "RssFile": &file})
	if rss == 0 {
		return MemoryAtPeak{}, false
	}
	s := make([]metrics.Sample, len(memMetrics))
	for i, n := range memMetrics {
		s[i].Name = n
	}
	metrics.Read(s)
	mb := func(i int) float64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return float64(s[i].Value.Uint64()) / (1 << 20)
	}
	objects, free, released, total, live := mb(0), mb(1), mb(2), mb(3), mb(4)
	goResident := total - released
	return MemoryAtPeak{
		ResidentMB: rss, HeapObjectMB: objects, HeapLiveMB: live, HeapFreeMB: free,
		GoOtherMB: goResident - objects - free, StacksMB: mb(5) + mb(6), MetadataMB: mb(7) + mb(8) + mb(9),
		FileMB: file, OutsideMB: max(0, anon-goResident),
	}, true
}

// writeHeapProfile writes a heap profile, after a collection, to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// statusMB sets each field named in fields to its value in
// /proc/self/status ("Name:   1234 kB"), in MB; fields it cannot read stay
// as they are.
func statusMB(fields map[string]*float64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if p := fields[name]; ok && p != nil {
			if kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64); err == nil {
				*p = kb / 1024
			}
		}
	}
}
