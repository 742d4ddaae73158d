package wecommoment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom"
)

// ErrNoRemind is the answer to reminding members of a moment: WeCom has no
// API for it (remind_groupmsg_send is for group messages only).
var ErrNoRemind = kith.Errorf(kith.EINVALID, "WeCom has no API to remind members of a moment; ask them in person to publish it")

// Follower reads what became of moment tasks and cancels them.
type Follower struct {
	client Client
	db     *store.DB
	clock  kith.Clock
}

// NewFollower returns a Follower.
func NewFollower(client Client, db *store.DB, clock kith.Clock) *Follower {
	return &Follower{client: client, db: db, clock: clock}
}

// task is a batch's moment as recorded.
type task struct {
	batch     int64
	sender    string
	job       string
	moment    string
	cancelled bool
}

// find returns the moment_tasks row of a batch's provider id (a moment id,
// or "job:<jobid>" while it was being created).
func (f *Follower) find(ctx context.Context, providerID string) (task, error) {
	var t task
	err := f.db.R.QueryRowContext(ctx, `SELECT batch_id, sender, job_id, moment_id, cancelled FROM moment_tasks
		WHERE (moment_id <> '' AND moment_id = $1) OR (job_id <> '' AND 'job:' || job_id = $1)`, providerID).Scan(&t.batch, &t.sender, &t.job, &t.moment, &t.cancelled)
	if errors.Is(err, sql.ErrNoRows) {
		return t, kith.Errorf(kith.ENOTFOUND, "wecommoment: no moment task %q", providerID)
	}
	if err != nil {
		return t, fmt.Errorf("wecommoment: moment task %s: %w", providerID, err)
	}
	return t, nil
}

// resolve returns the task's moment id, asking get_moment_task_result when
// only the job is known ("" while it runs). noMoment is true when the job
// ended without a moment.
func (f *Follower) resolve(ctx context.Context, client *wecom.Client, t task) (id string, noMoment bool, err error) {
	if t.moment != "" {
		return t.moment, false, nil
	}
	res, err := client.MomentTaskResult(ctx, t.job)
	if err != nil || res.Status != wecom.MomentJobDone {
		return "", false, err
	}
	if res.Result.MomentID == "" {
		return "", true, nil
	}
	f.db.W.ExecContext(ctx, "UPDATE moment_tasks SET moment_id = $1 WHERE batch_id = $2", res.Result.MomentID, t.batch)
	return res.Result.MomentID, false, nil
}

// Track implements campaign.Follower: once the member published the moment
// (get_moment_task publish_status 1), every customer of the batch, who
// carries its tag, is delivered; before, they wait.
func (f *Follower) Track(ctx context.Context, sender, providerID string) (map[string]campaign.Tracked, error) {
	t, err := f.find(ctx, providerID)
	if err != nil {
		return nil, err
	}
	client, err := f.client(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]campaign.Tracked{}
	id, none, err := f.resolve(ctx, client, t)
	if err != nil {
		return nil, fmt.Errorf("wecommoment: track %s: %w", providerID, err)
	}
	if none {
		return f.all(ctx, t.batch, campaign.Tracked{State: campaign.DeliveryFailed, Reason: ReasonNoMoment})
	}
	if id == "" {
		return out, nil
	}
	published, err := f.published(ctx, client, id, sender)
	if err != nil || !published {
		return out, err
	}
	f.db.W.ExecContext(ctx, "UPDATE moment_tasks SET published_at = $1 WHERE batch_id = $2 AND published_at IS NULL", f.clock.Now().UTC(), t.batch)
	return f.all(ctx, t.batch, campaign.Tracked{State: campaign.DeliveryDelivered})
}

// all gives every sent customer of batch the same outcome.
func (f *Follower) all(ctx context.Context, batch int64, tr campaign.Tracked) (map[string]campaign.Tracked, error) {
	rows, err := f.db.R.QueryContext(ctx, `SELECT c.external_userid FROM campaign_deliveries d JOIN customers c ON c.id = d.customer_id
		WHERE d.batch_id = $1 AND d.state = 'sent'`, batch)
	if err != nil {
		return nil, fmt.Errorf("wecommoment: customers of batch %d: %w", batch, err)
	}
	defer rows.Close()
	out := map[string]campaign.Tracked{}
	for rows.Next() {
		var ext string
		if err := rows.Scan(&ext); err != nil {
			return nil, err
		}
		out[ext] = tr
	}
	return out, rows.Err()
}

// published reports whether member published moment id.
func (f *Follower) published(ctx context.Context, client *wecom.Client, id, member string) (bool, error) {
	cursor := ""
	for {
		page, err := client.MomentTask(ctx, id, cursor)
		if wecom.ErrorCode(err) == wecom.CodeMomentDispatching {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("wecommoment: publish status of %s: %w", id, err)
		}
		for _, t := range page.List {
			if t.UserID == member {
				return t.PublishStatus == wecom.MomentPublished, nil
			}
		}
		if page.NextCursor == "" {
			return false, nil
		}
		cursor = page.NextCursor
	}
}

// Remind implements campaign.Follower: WeCom has no remind API for
// moments, so it always answers ErrNoRemind.
func (f *Follower) Remind(ctx context.Context, providerID string) error { return ErrNoRemind }

// CancelTask implements campaign.Follower (cancel_moment_task): members who
// have not published can no longer.
func (f *Follower) CancelTask(ctx context.Context, providerID string) error {
	t, err := f.find(ctx, providerID)
	if err != nil {
		return err
	}
	if t.cancelled {
		return nil
	}
	client, err := f.client(ctx)
	if err != nil {
		return err
	}
	id, none, err := f.resolve(ctx, client, t)
	switch {
	case err != nil:
		return fmt.Errorf("wecommoment: cancel %s: %w", providerID, err)
	case none:
		return nil
	case id == "":
		return kith.Errorf(kith.EUNAVAILABLE, "wecommoment: the moment is still being created; cancel again in a minute")
	}
	if err := client.CancelMomentTask(ctx, id); err != nil {
		return err
	}
	_, err = f.db.W.ExecContext(ctx, "UPDATE moment_tasks SET cancelled = TRUE WHERE batch_id = $1", t.batch)
	return err
}

// StatsFor is how long after its creation a moment's likes and comments
// are read again.
const StatsFor = 30 * 24 * time.Hour

// RefreshStats reads the likes and comments of every moment younger than
// StatsFor (get_moment_comments, read-only) and stores their counts. It
// returns how many moments it read.
func (f *Follower) RefreshStats(ctx context.Context) (int, error) {
	rows, err := f.db.R.QueryContext(ctx, "SELECT batch_id, sender, moment_id FROM moment_tasks WHERE moment_id <> '' AND created_at >= $1 ORDER BY batch_id",
		f.clock.Now().UTC().Add(-StatsFor))
	if err != nil {
		return 0, fmt.Errorf("wecommoment: stats: %w", err)
	}
	var ts []task
	for rows.Next() {
		var t task
		if err := rows.Scan(&t.batch, &t.sender, &t.moment); err != nil {
			rows.Close()
			return 0, err
		}
		ts = append(ts, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ts) == 0 {
		return 0, err
	}
	client, err := f.client(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, t := range ts {
		cm, err := client.MomentComments(ctx, t.moment, t.sender)
		if err != nil {
			errs = append(errs, fmt.Errorf("wecommoment: comments of %s: %w", t.moment, err))
			continue
		}
		if _, err := f.db.W.ExecContext(ctx, "UPDATE moment_tasks SET likes = $1, comments = $2, stats_at = $3 WHERE batch_id = $4",
			len(cm.LikeList), len(cm.CommentList), f.clock.Now().UTC(), t.batch); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// MemberStat is one member's moment of a campaign, as the console shows it.
type MemberStat struct {
	Sender    string
	Customers int // customers who carry the batch's tag
	Published bool
	Cancelled bool
	Likes     int
	Comments  int
	StatsAt   time.Time
}

// CampaignStats returns the moments of campaign id, by member and batch.
func CampaignStats(ctx context.Context, db *store.DB, id int64) ([]MemberStat, error) {
	rows, err := db.R.QueryContext(ctx, `SELECT sender, tagged, published_at, cancelled, likes, comments, stats_at FROM moment_tasks
		WHERE campaign_id = $1 AND (moment_id <> '' OR job_id <> '') ORDER BY sender, batch_id`, id)
	if err != nil {
		return nil, fmt.Errorf("wecommoment: campaign stats: %w", err)
	}
	defer rows.Close()
	var out []MemberStat
	for rows.Next() {
		var m MemberStat
		var pub, at sql.NullTime
		if err := rows.Scan(&m.Sender, &m.Customers, &pub, &m.Cancelled, &m.Likes, &m.Comments, &at); err != nil {
			return nil, err
		}
		m.Published, m.StatsAt = pub.Valid, at.Time
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteTags deletes from WeCom (del_corp_tag) and locally the own tag of
// every batch whose task is over, and records it (tag_deleted_at), so the
// moments do not use up the corp's 3,000 enterprise tags. A task is over
// when its batch is no longer being called and none of its customers is
// still claimed or waiting for the member: the moment was published (its
// visible customers were fixed when it went out), cancelled, never made,
// or the batch failed or was void. A tag WeCom no longer has (40068) is
// deleted already; so running it again, or after a crash between the
// two deletes, is harmless. It returns how many tags it deleted.
func (f *Follower) DeleteTags(ctx context.Context) (int, error) {
	rows, err := f.db.R.QueryContext(ctx, `SELECT m.batch_id, m.tag_id FROM moment_tasks m JOIN campaign_batches b ON b.id = m.batch_id
		WHERE m.tag_id <> '' AND m.tag_deleted_at IS NULL AND b.state <> 'calling'
		AND NOT EXISTS (SELECT 1 FROM campaign_deliveries d WHERE d.batch_id = m.batch_id AND d.state IN ('claimed', 'sent'))
		ORDER BY m.batch_id`)
	if err != nil {
		return 0, fmt.Errorf("wecommoment: tags of ended tasks: %w", err)
	}
	type ended struct {
		batch int64
		tag   string
	}
	var todo []ended
	for rows.Next() {
		var e ended
		if err := rows.Scan(&e.batch, &e.tag); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(todo) == 0 {
		return 0, err
	}
	client, err := f.client(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range todo {
		if err := client.DelCorpTag(ctx, []string{e.tag}, nil); err != nil && wecom.ErrorCode(err) != wecom.CodeInvalidTagID {
			errs = append(errs, fmt.Errorf("wecommoment: delete the tag of batch %d: %w", e.batch, err))
			continue
		}
		err := f.db.InTx(ctx, func(tx *sql.Tx) error {
			if err := customer.DeleteTags(ctx, tx, []string{e.tag}, nil); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "UPDATE moment_tasks SET tag_deleted_at = $1 WHERE batch_id = $2 AND tag_deleted_at IS NULL", f.clock.Now().UTC(), e.batch)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("wecommoment: record the deleted tag of batch %d: %w", e.batch, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// StatsArgs is the periodic job that refreshes the moments' likes and
// comments and deletes the tags of ended tasks.
type StatsArgs struct{}

// Kind implements river.JobArgs.
func (StatsArgs) Kind() string { return "moment.stats" }

// StatsEvery is how often the moments' likes and comments are read.
const StatsEvery = 15 * time.Minute

// StatsWorker runs StatsArgs.
type StatsWorker struct {
	river.WorkerDefaults[StatsArgs]
	Follower *Follower
}

// Work implements river.Worker.
func (w *StatsWorker) Work(ctx context.Context, job *river.Job[StatsArgs]) error {
	_, err := w.Follower.RefreshStats(ctx)
	_, terr := w.Follower.DeleteTags(ctx)
	err = errors.Join(err, terr)
	if kith.ErrorCode(err) == kith.EUNAVAILABLE {
		return nil // WeCom is not set up yet: the next run reads
	}
	return err
}

var _ campaign.Follower = (*Follower)(nil)
