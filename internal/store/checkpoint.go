package store

import (
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often the background checkpointer copies the WAL
// into the database file. Under a steady stream of small commits the same
// few pages (the tails of a table and its indexes) are written again and
// again; a checkpoint copies each page once, its last version, so a
// longer interval copies less: at a second, `kith bench callbacks` spent
// about a twelfth of Kith's CPU time less per callback than at 250 ms
// (docs/operations.md). A second of writes stays far below the WAL's
// bound (walAutocheckpoint pages).
const checkpointEvery = time.Second

// A checkpointer copies committed pages from SQLite's write-ahead log back
// into the database file on a connection of its own, in the background.
//
// Without it the commit that crosses walAutocheckpoint does that work, and
// syncs the database file, while it holds the one writer: in a burst of
// callbacks a third of the writer's time went to those syncs (a blocking
// fsync of tens of megabytes), and every callback queued behind the commit
// waited. A passive checkpoint takes no write lock, so the writer goes on
// committing while this one copies and syncs on the other core; the
// writer's own checkpoint (still at walAutocheckpoint, which bounds the
// WAL) then finds nearly everything copied and synced already.
type checkpointer struct {
	conn *sql.DB
	stop chan struct{}
	done chan struct{}
	// copied counts the checkpoints after which the WAL held frames copied
	// into the database file (tests wait on it); lastErr is the last
	// failure, kept for tests: the next tick tries again, and a lasting
	// cause (a full disk) fails the writer's own commits, which report it.
	copied  atomic.Int64
	lastErr atomic.Pointer[error]

	closeOnce sync.Once
	closeErr  error
}

func startCheckpointer(path string) (*checkpointer, error) {
	conn, err := sql.Open("sqlite", sqliteCheckpointDSN(path))
	if err != nil {
		return nil, fmt.Errorf("store: open %s for checkpoints: %w", path, err)
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(0)
	c := &checkpointer{conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

// sqliteCheckpointDSN is the checkpointer's connection: not query-only (a
// checkpoint writes the database file), with no automatic checkpoint of its
// own and a short busy timeout (a passive checkpoint never waits for locks
// anyway).
func sqliteCheckpointDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(1000)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)"
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.once()
		}
	}
}

// once runs one passive checkpoint: it copies whatever frames no reader
// still needs, syncs the database file if it copied any, and returns
// without waiting for any lock.
func (c *checkpointer) once() {
	var busy, logFrames, copied int
	err := c.conn.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
	if err != nil {
		c.lastErr.Store(&err)
		return
	}
	if copied > 0 {
		c.copied.Add(1)
	}
}

// close stops the checkpointer; a DB may be closed twice (a test closes
// it to play an outage, and its cleanup again), as a sql.DB may.
func (c *checkpointer) close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.closeErr = c.conn.Close()
	})
	return c.closeErr
}
