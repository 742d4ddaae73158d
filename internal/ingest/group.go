package ingest

import (
	"runtime"
	"sync"
)

// acceptReq is one Accept waiting for its transaction.
type acceptReq struct {
	in   Inbound
	id   int64
	dup  bool
	err  error
	done chan struct{} // closed when the request's transaction ended
	lead chan struct{} // signalled when the request is to commit the next batch
}

// maxGroup bounds how many events one transaction writes.
const maxGroup = 512

// groupCommit lets concurrent callers share transactions without a
// goroutine of its own: the caller at the head of the queue commits
// everything queued behind it (up to maxGroup) in one batch, then hands the
// lead to the next caller that is still waiting. So no caller commits more
// than one batch, and none waits for more than the batch before its own.
type groupCommit struct {
	mu         sync.Mutex
	queue      []*acceptReq
	committing bool
}

// submit returns when r's batch was committed (r.done is closed).
func (g *groupCommit) submit(r *acceptReq, commit func([]*acceptReq)) {
	r.lead = make(chan struct{}, 1)
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if g.committing {
		g.mu.Unlock()
		select {
		case <-r.done:
			return
		case <-r.lead:
		}
		g.mu.Lock()
	} else {
		g.committing = true
	}
	// r is at the head of the queue. Before it takes the batch, every other
	// goroutine ready to run gets its turn, so callers that are about to
	// queue (their request read, decrypted and parsed) join this batch
	// instead of waiting for the next: on SQLite each commit costs more than
	// several events' inserts, so fuller batches are most of what makes
	// group commit pay. It waits for no timer: with nothing else runnable,
	// Gosched returns at once.
	g.mu.Unlock()
	runtime.Gosched()
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()
	commit(batch)
	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].lead <- struct{}{}
	} else {
		g.committing = false
	}
	g.mu.Unlock()
}
