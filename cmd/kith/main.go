// Command kith is Kith's one binary: the server and the commands that look
// after its data. Run `kith help` for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/kith-scrm/kith/internal/kith"
)

const usage = `Kith — self-hosted SCRM through official channels.

Usage: kith COMMAND [flags]

Commands:
  serve          run the server (add --sandbox for the local WeCom sandbox)
  migrate        apply database migrations and exit
  token create   create an API token: --role ROLE --name NAME
  token list     list live API tokens
  token revoke   revoke an API token: --name NAME
  jobs check     enqueue probe jobs and wait until running servers worked each once
  sync           pull members, corp tags and customers from WeCom now
  events list    list received platform events: [--status S] [--limit N] [--json]
  audit verify   check the audit log's hash chain: [--checkpoint FILE]
  audit checkpoint  print the audit log's checkpoint as JSON: [--out FILE]
  audit export   write audit entries to stdout: [--person P] [--actor A] [--action X] [--since T] [--format csv|jsonl]
  import orders  import an order file (CSV/XLSX): FILE [--mapping NAME] [--dry-run] [--json]
  import categories  the SKU catalogue's categories (CSV: sku,category): FILE
  import source  add or list the sources of the signed orders webhook: add NAME | list; or pull 聚水潭 orders now: jst [--json]
  keys list      list the field keys, which is current and how many values use each: [--json]
  keys add       make a new current field key in the secrets file (restart, then rotate)
  keys rotate    re-seal every protected value under the current field key: [--batch N] [--json]
  keys retire    retire a field key no value uses any more: KEY_ID
  segment count  count the customers of a segment expression: EXPR [--json] [--sql]
  segment explain  show an expression's parsed tree and reference SQL: EXPR [--json]
  sandbox        run the local WeCom sandbox alone, with its control page
  bench callbacks  measure callback intake against a no-op handler: [--json]
  bench gate     measure gate decisions per second: [--json] [--customers 1000000]
  bench segments  measure the segment index against the reference SQL: --customers N [--keep DIR | --reuse DIR] [--json] [--database-url PG]
  bench campaign  plan and send a campaign, measuring each: --recipients N [--channel wecom|email] [--smtp HOST:PORT] [--plan-only] [--json]
  version        print the version

Every command that touches data takes --data-dir and --database-url (or
KITH_DATA_DIR and KITH_DATABASE_URL). Run "kith COMMAND -h" for its flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal starts a graceful stop, a second one kills the
	// process the default way.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	os.Exit(code)
}

// run executes one command and returns the process exit code: 0 on success,
// 1 when the command failed, 2 when it was called wrongly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		err = cmdMigrate(ctx, args[1:], stdout, stderr, getenv)
	case "token":
		err = cmdToken(ctx, args[1:], stdout, stderr, getenv)
	case "jobs":
		err = cmdJobs(ctx, args[1:], stdout, stderr, getenv)
	case "sync":
		err = cmdSync(ctx, args[1:], stdout, stderr, getenv)
	case "segment":
		err = cmdSegment(ctx, args[1:], stdout, stderr, getenv)
	case "sandbox":
		err = cmdSandbox(ctx, args[1:], stdout, stderr, getenv)
	case "bench":
		err = cmdBench(ctx, args[1:], stdout, stderr, getenv)
	case "events":
		err = cmdEvents(ctx, args[1:], stdout, stderr, getenv)
	case "audit":
		err = cmdAudit(ctx, args[1:], stdout, stderr, getenv)
	case "import":
		err = cmdImport(ctx, args[1:], stdout, stderr, getenv)
	case "keys":
		err = cmdKeys(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-v":
		err = cmdVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "kith: unknown command %q; run \"kith help\" for the list\n", args[0])
		return 2
	}
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "kith %s: %v\n", args[0], err)
		return 2
	}
	// An application error carries a message meant for people; print that,
	// not its "kith: code:" prefix. Wrong input is a wrong call (exit 2).
	if ke := (*kith.Error)(nil); errors.As(err, &ke) {
		fmt.Fprintf(stderr, "kith %s: %s\n", args[0], ke.Message)
		if ke.Code == kith.EINVALID {
			return 2
		}
		return 1
	}
	fmt.Fprintf(stderr, "kith %s: %v\n", args[0], err)
	return 1
}

// usageError is an error in how a command was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parseFlags parses args into fs. A wrong flag becomes one line of error; -h
// prints the flags to stdout.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage: kith %s [flags]\n\nFlags:\n", fs.Name())
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return usageError{fmt.Sprintf("%v; run \"kith %s -h\" for the flags", err, fs.Name())}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q; run \"kith %s -h\" for the flags", fs.Arg(0), fs.Name())}
	}
	return nil
}
