package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/wecom/callback"
)

// Senders load a server with sealed callbacks. They run in a child process
// of their own (`kith bench callback-senders`, see ServeSenders) or, for
// tests and comparison, in the measuring process.
//
// On two cores the senders' work (HTTP client, and the pool of sealed
// deliveries the garbage collector would otherwise scan) competes with the
// server it measures; in a process of their own the server's CPU time is
// its own, and both sides of the comparison pay the senders the same way.
type senders interface {
	// load sends deliveries from, from+1, … to base (the server's
	// "http://host:port") with the pool's concurrency for d, at most n of
	// them (cycling through the pool past its end), and returns what it
	// measured.
	load(ctx context.Context, base string, d time.Duration, from, n int) (Result, error)
	close() error
}

// senderSetup is the first line a sender child reads.
type senderSetup struct {
	Concurrency int   `json:"concurrency"`
	Deliveries  int   `json:"deliveries"`
	Created     int64 `json:"created"` // the events' CreateTime (Unix seconds)
}

// senderLoad asks a sender child for one load; it answers with a Result.
type senderLoad struct {
	Base     string        `json:"base"`
	Duration time.Duration `json:"duration"`
	From     int           `json:"from"`
	N        int           `json:"n"`
}

// sealPool seals the deliveries in advance, so the senders measure the
// servers, not their own encryption.
func sealPool(s senderSetup) ([]Request, error) {
	crypto, err := callback.NewCrypto(benchToken, benchKey, benchCorp)
	if err != nil {
		return nil, err
	}
	pool := make([]Request, s.Deliveries)
	ts := strconv.FormatInt(s.Created, 10)
	for i := range pool {
		nonce := strconv.Itoa(i)
		body, sig, err := crypto.Seal(eventFor(eventIndex(i), s.Created), ts, nonce)
		if err != nil {
			return nil, err
		}
		q := url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {nonce}}
		pool[i] = Request{URL: "/wecom/callback?" + q.Encode(), Body: body}
	}
	return pool, nil
}

// localSenders send from this process.
type localSenders struct {
	pool        []Request
	client      *http.Client
	concurrency int
}

func newLocalSenders(s senderSetup) (*localSenders, error) {
	pool, err := sealPool(s)
	if err != nil {
		return nil, err
	}
	return &localSenders{pool: pool, concurrency: s.Concurrency,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: s.Concurrency, MaxConnsPerHost: s.Concurrency}}}, nil
}

func (l *localSenders) load(ctx context.Context, base string, d time.Duration, from, n int) (Result, error) {
	return load(ctx, l.client, l.concurrency, d, n, func(i int) Request {
		r := l.pool[(from+i)%len(l.pool)]
		return Request{URL: base + r.URL, Body: r.Body}
	}), nil
}

func (l *localSenders) close() error {
	l.client.CloseIdleConnections()
	return nil
}

// childSenders send from a child process that runs ServeSenders.
type childSenders struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startChildSenders(cmd *exec.Cmd, s senderSetup) (*childSenders, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start the senders' process: %w", err)
	}
	c := &childSenders{cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	c.out.Buffer(nil, 1<<20)
	if err := json.NewEncoder(in).Encode(s); err != nil {
		c.close()
		return nil, fmt.Errorf("bench: set up the senders' process: %w", err)
	}
	var ready struct {
		Ready bool   `json:"ready"`
		Error string `json:"error"`
	}
	if err := c.read(&ready); err != nil || !ready.Ready {
		c.close()
		return nil, fmt.Errorf("bench: the senders' process did not get ready: %v%s", err, ready.Error)
	}
	return c, nil
}

func (c *childSenders) read(v any) error {
	if !c.out.Scan() {
		if err := c.out.Err(); err != nil {
			return err
		}
		return io.ErrUnexpectedEOF
	}
	return json.Unmarshal(c.out.Bytes(), v)
}

// load runs one load in the child. The child's own CPU time goes to
// SenderCPUMicros; CPUMicros is this process's (the server's) CPU time over
// the same span.
func (c *childSenders) load(ctx context.Context, base string, d time.Duration, from, n int) (Result, error) {
	if err := json.NewEncoder(c.in).Encode(senderLoad{Base: base, Duration: d, From: from, N: n}); err != nil {
		return Result{}, fmt.Errorf("bench: ask the senders' process for a load: %w", err)
	}
	cpu0 := processCPU()
	var r struct {
		Result
		Error string `json:"error"`
	}
	err := c.read(&r)
	cpu := processCPU() - cpu0
	if err != nil {
		return Result{}, fmt.Errorf("bench: read the senders' result: %w", err)
	}
	if r.Error != "" {
		return Result{}, errors.New("bench: senders: " + r.Error)
	}
	res := r.Result
	res.SenderCPUMicros = res.CPUMicros
	res.CPUMicros = 0
	if res.OK > 0 {
		res.CPUMicros = float64(cpu.Microseconds()) / float64(res.OK)
	}
	return res, nil
}

func (c *childSenders) close() error {
	c.in.Close() // the child ends when its input does
	return c.cmd.Wait()
}

// ServeSenders is the sender side of `kith bench callbacks` in a child
// process (`kith bench callback-senders`): it reads a setup line (JSON) from
// in, seals the deliveries, answers {"ready":true}, then runs each load
// asked for (one JSON line each) and answers with its Result, until in ends.
func ServeSenders(ctx context.Context, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	enc := json.NewEncoder(out)
	if !sc.Scan() {
		return errors.New("bench: no setup line")
	}
	var s senderSetup
	if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
		return fmt.Errorf("bench: setup line: %w", err)
	}
	if s.Concurrency < 1 || s.Deliveries < 1 {
		return enc.Encode(map[string]any{"ready": false, "error": "concurrency and deliveries must be positive"})
	}
	l, err := newLocalSenders(s)
	if err != nil {
		return enc.Encode(map[string]any{"ready": false, "error": err.Error()})
	}
	defer l.close()
	if err := enc.Encode(map[string]bool{"ready": true}); err != nil {
		return err
	}
	for sc.Scan() {
		var req senderLoad
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return enc.Encode(map[string]string{"error": "load line: " + err.Error()})
		}
		if req.N <= 0 {
			req.N = math.MaxInt
		}
		r, err := l.load(ctx, req.Base, req.Duration, req.From, req.N)
		if err != nil {
			return enc.Encode(map[string]string{"error": err.Error()})
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return sc.Err()
}
