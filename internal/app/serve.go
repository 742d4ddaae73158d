package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/config"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/gcfloor"
	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/obs"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/jst"
	"github.com/kith-scrm/kith/internal/orders/jst/jsttest"
	"github.com/kith-scrm/kith/internal/orders/wecompay"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/providers"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/segment/index"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/web"
	"github.com/kith-scrm/kith/internal/wecom/wecomsync"
)

// FullSyncEvery is how often a full sync with WeCom runs.
const FullSyncEvery = 6 * time.Hour

// ShutdownTimeout bounds a graceful stop: in-flight requests and jobs get
// this long before they are cancelled, so the process exits within 10 s.
const ShutdownTimeout = 8 * time.Second

// Listen opens the server's socket, turning the usual failures into one line
// that says how to fix them.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("--addr %s is already in use; stop the other process or choose another address with --addr or KITH_ADDR", addr)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("--addr %s may not be used by this user (ports below 1024 need privileges); choose a port above 1024", addr)
	case strings.Contains(err.Error(), "assign requested address"), strings.Contains(err.Error(), "no such host"):
		return nil, fmt.Errorf("--addr %s names an address this machine does not have; use 127.0.0.1, 0.0.0.0 or one of its own addresses", addr)
	}
	return nil, fmt.Errorf("--addr %s: %v", addr, err)
}

// Options are the parts of Serve that callers and tests choose.
type Options struct {
	Stdout io.Writer // where the first-start notice is printed
	Log    *slog.Logger
	// Ready, if set, is called once the instance serves requests.
	Ready func()
	// SandboxCustomers sizes the sandbox's demo company; 0 means the full
	// 5,000 (tests choose fewer).
	SandboxCustomers int
	// ImportMaxBytes bounds an order file uploaded in the console; 0 means
	// orders.DefaultMaxBytes (tests choose less).
	ImportMaxBytes int64
}

// Serve runs Kith on ln until ctx is cancelled, then stops gracefully: it
// stops accepting connections, lets in-flight requests and jobs finish (for
// at most ShutdownTimeout) and closes the database. If the start fails on a
// data folder it created, it removes the folder again.
func Serve(ctx context.Context, cfg *config.Config, ln net.Listener, o Options) error {
	defer ln.Close()
	log := o.Log
	var sandboxLn net.Listener
	if cfg.Sandbox {
		addr := cfg.SandboxAddr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		var err error
		if sandboxLn, err = listenSandbox(addr); err != nil {
			return err
		}
		defer sandboxLn.Close()
	}
	a, err := Open(ctx, cfg, log, ForServe)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("the start was interrupted (%v); start again to finish it", err)
		}
		return err
	}
	started := false
	defer func() {
		if !started {
			a.Discard()
		}
	}()

	metrics := obs.New()
	protector, err := protect.FromKeys(a.Keys)
	if err != nil {
		return err
	}
	sealer := protector.Sealer() // settings open under every field key, seal under the current one
	kithURL := "http://" + displayAddr(ln.Addr())
	wecomEnv := cfg.WeComEnv
	var sb *sandbox
	if cfg.Sandbox {
		if sb, err = startSandbox(sandboxLn, kithURL, o.SandboxCustomers, log); err != nil {
			return err
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			sb.stop(stopCtx)
		}()
		wecomEnv = sb.conn // the sandbox's corp replaces any configured one
	}
	settingsStore := settings.NewStore(a.DB, sealer, a.Clock, wecomEnv)
	conn := wecomsync.NewConn(settingsStore, &http.Client{}, log)
	syncer := wecomsync.NewSyncer(a.DB, conn, a.Clock, log)
	syncer.UseProtector(protector)
	// One gate per process: consent changes recorded here reach its
	// in-memory state at once (other nodes catch up by tailing).
	sendGate := gate.New(a.DB, a.Keys.BlindIndex, a.Clock)
	syncer.UseLedger(consent.NewLedger(a.DB.R, a.Keys.BlindIndex).UseIndexer(protector).OnChange(sendGate.ConsentChanged))

	workers := river.NewWorkers()
	river.AddWorker(workers, &jobs.ProbeWorker{DB: a.DB, Node: cfg.NodeName, Clock: a.Clock})
	river.AddWorker(workers, &auth.PruneWorker{Service: a.Auth})
	river.AddWorker(workers, &wecomsync.SyncWorker{Syncer: syncer})
	// Orders: the customer facts' windows move on daily (internal/orders).
	ordersStore := orders.NewStore(a.DB, protector, a.Clock)
	ordersStore.Location = cmp.Or(cfg.Location, time.UTC)
	river.AddWorker(workers, &orders.RefreshWorker{Store: ordersStore})
	river.AddWorker(workers, &wecompay.PullWorker{Store: ordersStore, Client: conn.Client, Clock: a.Clock})
	// Order files uploaded in the console, dry-run and imported by a job on
	// this node's own queue (the file is in its data folder).
	uploads := &orders.Uploads{Dir: filepath.Join(cfg.DataDir, "imports"), MaxBytes: o.ImportMaxBytes, Clock: a.Clock}
	river.AddWorker(workers, &orders.ImportWorker{Store: ordersStore, Uploads: uploads, Audit: a.Audit, Log: log})
	// The 聚水潭 ERP connector: pulls on its own interval, one node at a
	// time, with the settings saved in the console (/settings/orders).
	jstSvc := &jst.Service{DB: a.DB, Sealer: sealer, Orders: ordersStore, Clock: a.Clock, Audit: a.Audit, Log: log,
		HTTP: &http.Client{Timeout: 30 * time.Second}, Node: cfg.NodeName}
	river.AddWorker(workers, &jst.PullWorker{Service: jstSvc})
	if sb != nil {
		// The sandbox's 聚水潭 replaces any configured one, as its corp does.
		if err := jstSvc.Save(ctx, jst.Settings{Enabled: true, BaseURL: sb.url + sandboxJSTPath, AppKey: jsttest.AppKey,
			AppSecret: jsttest.AppSecret, AccessToken: jsttest.AccessToken}, "sandbox"); err != nil {
			return err
		}
	}
	var j *jobs.Jobs
	acq, acqPeriodic := newAcquisition(a.DB, sendGate, conn, syncer, a.Clock, cfg.Location, log, workers, &j)
	campaigns, campaignTick := newCampaigns(a.DB, sendGate, conn, protector, a.Clock, cfg.Location, cfg.NodeName, workers, &j)
	// SMS and e-mail providers (Settings → Providers); the sandbox sends
	// e-mail to its own SMTP sink and SMS to its Tencent stand-in.
	providerStore := providers.NewStore(a.DB, sealer, a.Clock)
	if cfg.Sandbox {
		sink, err := sandboxMail(providerStore, kithURL, log)
		if err != nil {
			return err
		}
		defer sink.Close()
		smsStandIn, err := sandboxSMS(providerStore, kithURL, a.Keys.BlindIndex, log)
		if err != nil {
			return err
		}
		defer smsStandIn.Close()
	}
	senders := providerChannels(campaigns, a.DB, providerStore, a.Keys.BlindIndex, a.Clock)
	defer senders.Close()
	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
			return auth.PruneArgs{}, nil
		}, &river.PeriodicJobOpts{RunOnStart: true}),
		// Events keep Kith current; a full sync now and then mends what
		// was missed (events lost while WeCom could not reach Kith).
		river.NewPeriodicJob(river.PeriodicInterval(FullSyncEvery), func() (river.JobArgs, *river.InsertOpts) {
			return wecomsync.SyncArgs{Trigger: "schedule"}, nil
		}, nil),
		orders.RefreshJob(ordersStore.Location),
		river.NewPeriodicJob(river.PeriodicInterval(wecompay.PullEvery), func() (river.JobArgs, *river.InsertOpts) {
			return wecompay.PullArgs{}, nil
		}, nil),
		acqPeriodic,
		campaignTick,
		jst.Tick(),
		newMomentStats(a.DB, conn, a.Clock, workers),
	}
	j, err = jobs.New(a.DB, jobs.Config{Node: cfg.NodeName, Workers: workers, Periodic: periodic, Logger: log, Metrics: metrics})
	if err != nil {
		return err
	}
	ingestSvc := ingest.NewService(a.DB, j, a.Clock, log)
	river.AddWorker(workers, ingestSvc.Worker(syncer))
	// The segment index is built in the background after the server
	// starts (at millions of customers it takes seconds); until it is
	// ready, segment counts come from the database.
	var segIndex atomic.Pointer[index.Index]
	srv, err := web.New(web.Deps{
		Auth: a.Auth, DB: a.DB, Jobs: j, Metrics: metrics, Log: log, Clock: a.Clock,
		Ingest: ingestSvc, CallbackCrypto: conn.Crypto, Audit: a.Audit, ConsentKey: a.Keys.BlindIndex,
		Gate: sendGate, Acquisition: acq, OrderUploads: uploads, Campaigns: campaigns,
		Providers: providerStore, ProviderTester: &providers.Tester{DB: a.DB, Gate: sendGate, Clock: a.Clock, TokenKey: a.Keys.BlindIndex},
		Segments: segment.NewStore(a.DB, a.Clock), SegmentIndex: segIndex.Load,
		Customers: customer.NewDirectory(a.DB), Protector: protector, Syncer: syncer, Settings: settingsStore, Conn: conn,
		JST:      jstSvc,
		Location: cfg.Location,
		Version:  BuildVersion(), Node: cfg.NodeName, Sandbox: cfg.Sandbox, CookieSecure: cfg.CookieSecure,
		StartedAt: a.Clock.Now(),
	})
	if err != nil {
		return err
	}
	// River cancels running jobs when its start context ends; the graceful stop
	// below must come first, so the jobs get a context of their own.
	if err := j.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if sb != nil {
		// Pull the demo company now; events keep it current afterwards.
		if _, err := j.Client().Insert(ctx, wecomsync.SyncArgs{Trigger: "start"}, nil); err != nil {
			log.Warn("could not enqueue the first sync with the sandbox", "err", err)
		}
		// Its payments once the customers are in (later ones join daily).
		if _, err := j.Client().Insert(ctx, wecompay.PullArgs{}, &river.InsertOpts{ScheduledAt: a.Clock.Now().Add(time.Minute)}); err != nil {
			log.Warn("could not enqueue the first payment pull", "err", err)
		}
		// RFM scores the demo orders and payments once both are in.
		if _, err := j.Client().Insert(ctx, orders.RefreshArgs{}, &river.InsertOpts{ScheduledAt: a.Clock.Now().Add(3 * time.Minute)}); err != nil {
			log.Warn("could not enqueue the first refresh of the customer facts", "err", err)
		}
	}
	// The owner is created last, so that no failure after it can leave an
	// owner whose one-time password nobody saw.
	ownerPassword, err := a.Auth.EnsureOwner(ctx, cfg.AdminPassword)
	if err != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		j.Stop(stopCtx)
		return err
	}
	// The collector waits for 64 MB of allocation at least (see gcfloor).
	defer gcfloor.Keep(gcfloor.Floor)()
	httpSrv := srv.HTTPServer()
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()

	started = true
	a.Keep()
	if sb != nil {
		go sandboxChannels(ctx, a.DB, acq, sb.sb, log) // demo channels with statistics
		// A year of demo orders with SKUs.
		go sandboxOrders(ctx, a.DB, ordersStore, len(sb.sb.Members()), log)
		go sandboxEmails(ctx, a.DB, protector, consent.NewLedger(a.DB.R, a.Keys.BlindIndex).UseIndexer(protector).OnChange(sendGate.ConsentChanged), a.Clock, log)
	}
	url := kithURL
	log.Info("kith is serving", "url", url, "database", a.DB.Describe(), "node", cfg.NodeName, "sandbox", cfg.Sandbox, "version", BuildVersion())
	sandboxURL := ""
	if sb != nil {
		sandboxURL = sb.url
	}
	printWelcome(o.Stdout, url, sandboxURL, cfg, ownerPassword)
	indexCtx, stopIndex := context.WithCancel(context.WithoutCancel(ctx))
	indexDone := make(chan struct{})
	go func() {
		defer close(indexDone)
		runSegmentIndex(indexCtx, a, cfg, log, &segIndex)
	}()
	defer func() { stopIndex(); <-indexDone }()
	if o.Ready != nil {
		o.Ready()
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		// The listener failed: stop the jobs and report it.
		stopCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		j.Stop(stopCtx)
		stopIndex()
		<-indexDone
		a.Close()
		return fmt.Errorf("http server: %w", err)
	}

	log.Info("stopping: finishing in-flight requests and jobs", "timeout", ShutdownTimeout)
	stopCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var httpErr, jobErr error
	wg.Add(2)
	go func() { defer wg.Done(); httpErr = httpSrv.Shutdown(stopCtx) }()
	go func() { defer wg.Done(); jobErr = j.Stop(stopCtx) }()
	wg.Wait()
	if httpErr != nil {
		httpSrv.Close()
	}
	stopIndex() // before the database closes under it
	<-indexDone
	closeErr := a.Close()
	log.Info("stopped")
	return errors.Join(ignoreDeadline(httpErr), ignoreDeadline(jobErr), closeErr)
}

// ignoreDeadline drops the error of a shutdown that ran out of time: what
// was still running has been cancelled, which is the intended outcome.
func ignoreDeadline(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// displayAddr turns a listening address into one a browser can open.
func displayAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func printWelcome(w io.Writer, url, sandboxURL string, cfg *config.Config, ownerPassword string) {
	fmt.Fprintf(w, "\nKith %s is running at %s\n", BuildVersion(), url)
	if sandboxURL != "" {
		fmt.Fprintln(w, "Sandbox mode is on: WeCom calls go to the local sandbox, not to Tencent.")
		fmt.Fprintf(w, "The sandbox's demo company is being synced; make things happen in it at %s/sandbox/\n", sandboxURL)
	}
	switch {
	case ownerPassword != "" && cfg.AdminPassword == "":
		fmt.Fprintf(w, "\nFirst start. Sign in at %s/login as\n\n    user name: owner\n    password:  %s\n\n", url, ownerPassword)
		fmt.Fprintln(w, "This one-time password is shown only now; you will choose your own at first sign-in.")
	case ownerPassword != "":
		fmt.Fprintf(w, "\nFirst start. Sign in at %s/login as owner with the password in KITH_ADMIN_PASSWORD.\n", url)
	}
	fmt.Fprintln(w)
}

// runSegmentIndex builds the segment index and keeps it current until ctx
// ends. A failed build is logged and tried again after a pause; the
// console counts with the database meanwhile.
func runSegmentIndex(ctx context.Context, a *App, cfg *config.Config, log *slog.Logger, into *atomic.Pointer[index.Index]) {
	for pause := time.Second; ; pause = min(2*pause, time.Minute) {
		start := time.Now()
		ix, err := index.Open(ctx, a.DB, cfg.Location, a.Clock)
		if err == nil {
			st := ix.Stats()
			log.Info("segment index built", "customers", st.Customers, "took", time.Since(start).Round(time.Millisecond), "bitmap_bytes", st.BitmapBytes)
			into.Store(ix)
			if err = ix.Run(ctx); ctx.Err() != nil {
				return
			}
			into.Store(nil)
		}
		if ctx.Err() != nil {
			return
		}
		log.Warn("segment index failed; counting with the database until it is rebuilt", "err", err, "retry_in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}
