package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/kith-scrm/kith/internal/bench"
	"github.com/kith-scrm/kith/internal/campaign"
)

// cmdBenchCampaign runs `kith bench campaign`.
func cmdBenchCampaign(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench campaign", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	recipients := fs.Int("recipients", 100_000, "customers to generate and send the campaign to")
	ch := fs.String("channel", "email", "wecom (group messages to the in-process sandbox) or email")
	smtpAddr := fs.String("smtp", "", "send the e-mail to this SMTP server (host:port, no TLS) instead of the bench's own sink")
	conns := fs.Int("conns", 8, "SMTP connections used at once")
	batch := fs.Int("batch", 0, "recipients per batch handed to the channel (default 5000 for e-mail, 10000 for WeCom)")
	overlap := fs.Int("overlap", 0, fmt.Sprintf("batches one run step hands over, each prepared while the one before sends (default %d, as the server; 1: none overlapped)", campaign.ServerOverlap))
	planOnly := fs.Bool("plan-only", false, "stop after planning (measure planning without the send)")
	inProcess := fs.Bool("sink-in-process", false, "run the bench's SMTP sink in this process (its CPU is then counted as Kith's) instead of a child process")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write a heap profile to this file when the sending is done (go tool pprof)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *recipients < 1 || *recipients > 10_000_000 {
		return usageError{fmt.Sprintf("--recipients is %d; use 1 to 10000000", *recipients)}
	}
	if *ch != "email" && *ch != "wecom" {
		return usageError{fmt.Sprintf("--channel is %q; use wecom or email", *ch)}
	}
	if *smtpAddr != "" {
		if _, _, err := net.SplitHostPort(*smtpAddr); err != nil || *ch != "email" {
			return usageError{fmt.Sprintf("--smtp %q: give host:port, with --channel email", *smtpAddr)}
		}
	}
	if *conns < 1 || *conns > 256 {
		return usageError{fmt.Sprintf("--conns is %d; use 1 to 256", *conns)}
	}
	if *batch < 0 || *batch > 10000 {
		return usageError{fmt.Sprintf("--batch is %d; use 1 to 10000", *batch)}
	}
	if *overlap < 0 || *overlap > 1000 {
		return usageError{fmt.Sprintf("--overlap is %d; use 1 to 1000", *overlap)}
	}
	dir, done, err := benchSetup("kith-bench-campaign-", *cpuProfile)
	if err != nil {
		return err
	}
	defer done()
	o := bench.CampaignOptions{Recipients: *recipients, Channel: campaign.Channel(*ch), SMTP: *smtpAddr, Conns: *conns, BatchSize: *batch, Overlap: *overlap, DataDir: dir, PlanOnly: *planOnly, MemProfile: *memProfile}
	if *smtpAddr == "" && !*inProcess && *ch == "email" && !*planOnly {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: cannot find this program to run the smtp sink (use --sink-in-process): %w", err)
		}
		o.SinkCommand = []string{exe, "bench", "smtpsink"}
	}
	if !*asJSON {
		o.Progress = func(s string) { fmt.Fprintf(stdout, "%s (SQLite in %s)\n", s, dir) }
	}
	rep, err := bench.Campaign(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	yes := map[bool]string{true: "met", false: "NOT met"}
	fmt.Fprintf(stdout, "  customers written in %.1f s\n", rep.LoadSeconds)
	fmt.Fprintf(stdout, "  planning: %d recipients in %.2f s (%.0f/s, %.2f CPU-s; %d permitted, %d refused) — 1 M in < %.0f s: %s\n",
		rep.Recipients, rep.PlanSeconds, rep.PlanPerSecond, rep.PlanCPUSeconds, rep.Permitted, rep.Refused, bench.GoalPlanSeconds1M, yes[rep.PlanGoal])
	if rep.PlanPeakMemoryMB > 0 {
		fmt.Fprintf(stdout, "  peak memory while planning: %.0f MB\n", rep.PlanPeakMemoryMB)
	}
	if *planOnly {
		fmt.Fprintf(stdout, "  (--plan-only: nothing sent) peak memory over the whole run %.0f MB; load average %.1f\n", rep.PeakMemoryMB, rep.LoadAverage)
		return nil
	}
	fmt.Fprintf(stdout, "  sending: %d sent, %d not sent, in %.2f s from the first send to the last: %.0f messages/s, %.2f CPU-s per 100k (%.1f CPU-s in all)\n",
		rep.Sent, rep.NotSent, rep.SendSeconds, rep.MessagesPerSecond, rep.CPUSecondsPer100k, rep.SendCPUSeconds)
	if rep.Tasks > 0 {
		fmt.Fprintf(stdout, "  WeCom: %d group-message tasks created in the sandbox\n", rep.Tasks)
	}
	switch {
	case rep.SinkMessages > 0 && rep.SinkInProcess:
		fmt.Fprintf(stdout, "  the sink received %d messages of %.0f bytes on average (it runs in this process: its CPU is counted)\n", rep.SinkMessages, rep.MessageBytes)
	case rep.SinkMessages > 0:
		fmt.Fprintf(stdout, "  the sink received %d messages of %.0f bytes on average; it ran in a child process and used %.1f CPU-s (%.2f per 100k), not counted above\n",
			rep.SinkMessages, rep.MessageBytes, rep.SinkCPUSeconds, rep.SinkCPUSeconds/float64(rep.SinkMessages)*100_000)
	}
	fmt.Fprintf(stdout, "  peak memory: %.0f MB while sending, %.0f MB over the whole run; load average %.1f\n", rep.SendPeakMemoryMB, rep.PeakMemoryMB, rep.LoadAverage)
	if m := rep.SendMemory; m.ResidentMB > 0 {
		fmt.Fprintf(stdout, "  at the highest sample while sending (%.0f MB resident): Go heap objects %.0f MB (%.0f MB live at the last collection), heap pages free %.0f MB, other Go runtime %.0f MB (stacks %.0f, metadata %.0f), outside Go %.0f MB, files %.0f MB\n",
			m.ResidentMB, m.HeapObjectMB, m.HeapLiveMB, m.HeapFreeMB, m.GoOtherMB, m.StacksMB, m.MetadataMB, m.OutsideMB, m.FileMB)
	}
	if rep.Channel == "email" {
		fmt.Fprintf(stdout, "  goals: ≥ %d msg/s %s; ≤ %.0f CPU-s per 100k %s; < %.0f MB %s\n", bench.GoalMessagesPerSecond, yes[rep.RateGoal],
			bench.GoalCPUSecondsPer100k, yes[rep.CPUGoal], bench.GoalPeakMemoryMB, yes[rep.MemoryGoal])
	}
	return nil
}

// cmdBenchSMTPSink runs `kith bench smtpsink` (not in the usage: `kith
// bench campaign` starts it): the bench's SMTP sink for a parent process,
// which reads its address and, when it closes the sink's input, its counts.
func cmdBenchSMTPSink(stdin io.Reader, stdout io.Writer) error {
	return bench.ServeSMTPSink(stdin, stdout)
}
