package wecommoment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/wecom"
)

// Reconciler finds a batch's moment after a crash.
type Reconciler struct {
	client Client
	db     *store.DB
	clock  kith.Clock
}

// NewReconciler returns a Reconciler.
func NewReconciler(client Client, db *store.DB, clock kith.Clock) *Reconciler {
	return &Reconciler{client: client, db: db, clock: clock}
}

// record is a batch's moment_tasks row.
type record struct {
	tag, job, moment string
}

func loadRecord(ctx context.Context, db *store.DB, batch int64) (record, bool, error) {
	var r record
	err := db.R.QueryRowContext(ctx, "SELECT tag_id, job_id, moment_id FROM moment_tasks WHERE batch_id = $1", batch).Scan(&r.tag, &r.job, &r.moment)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// Reconcile decides a batch in doubt:
//   - no tag recorded: the task, which needs the tag, cannot exist (not sent);
//   - a moment id recorded: sent;
//   - a jobid recorded: get_moment_task_result says (still running: in doubt);
//   - otherwise get_moment_list over the window, every page: a moment with
//     the campaign's content hash, held by no other batch, whose
//     get_moment_task names the member, is the batch's (sent); none is not
//     sent, once campaign.ReconcileGrace has passed since the mark (in doubt
//     before: a moment made just before a crash may be listed late).
func (r *Reconciler) Reconcile(ctx context.Context, d campaign.Doubt) (campaign.Outcome, error) {
	rec, ok, err := loadRecord(ctx, r.db, d.BatchID)
	if err != nil {
		return campaign.Outcome{}, fmt.Errorf("wecommoment: reconcile batch %d: %w", d.BatchID, err)
	}
	if !ok || rec.tag == "" {
		return campaign.Outcome{}, nil
	}
	if rec.moment != "" {
		return campaign.Outcome{Sent: true, ProviderID: rec.moment}, nil
	}
	client, err := r.client(ctx)
	if err != nil {
		return campaign.Outcome{}, err
	}
	if rec.job != "" {
		res, err := client.MomentTaskResult(ctx, rec.job)
		switch {
		case err != nil:
			return campaign.Outcome{}, fmt.Errorf("wecommoment: reconcile job %s: %w", rec.job, err)
		case res.Status != wecom.MomentJobDone:
			return campaign.Outcome{}, kith.Errorf(kith.EUNAVAILABLE, "wecommoment: job %s is still running", rec.job)
		case res.Result.MomentID == "":
			return campaign.Outcome{}, nil
		}
		r.db.W.ExecContext(ctx, "UPDATE moment_tasks SET moment_id = $1 WHERE batch_id = $2", res.Result.MomentID, d.BatchID)
		return campaign.Outcome{Sent: true, ProviderID: res.Result.MomentID}, nil
	}
	held, err := r.held(ctx, d.BatchID)
	if err != nil {
		return campaign.Outcome{}, err
	}
	start := d.MarkedAt.Add(-time.Minute)
	end := r.clock.Now().Add(time.Minute)
	if end.Sub(start) > wecom.MaxMomentListSpan*time.Second {
		start = end.Add(-wecom.MaxMomentListSpan * time.Second)
	}
	want := d.Campaign.Content.Hash()
	cursor := ""
	for {
		// No creator filter: which userid WeCom lists as the creator of a
		// corp moment is not confirmed, so the member is checked with
		// get_moment_task instead.
		page, err := client.MomentList(ctx, wecom.MomentListQuery{StartTime: start.Unix(), EndTime: end.Unix(),
			FilterType: wecom.MomentFilterCorp, Limit: wecom.MaxMomentListPage, Cursor: cursor})
		if err != nil {
			return campaign.Outcome{}, fmt.Errorf("wecommoment: reconcile: %w", err)
		}
		for _, m := range page.List {
			if slices.Contains(d.Known, m.MomentID) || held[m.MomentID] || contentOf(m).Hash() != want {
				continue
			}
			mine, err := senderOf(ctx, client, m.MomentID, d.Sender)
			if err != nil {
				return campaign.Outcome{}, err
			}
			if mine {
				r.db.W.ExecContext(ctx, "UPDATE moment_tasks SET moment_id = $1 WHERE batch_id = $2", m.MomentID, d.BatchID)
				return campaign.Outcome{Sent: true, ProviderID: m.MomentID}, nil
			}
		}
		if page.NextCursor == "" {
			// A moment created just before a crash may be listed late.
			if wait := d.MarkedAt.Add(campaign.ReconcileGrace).Sub(r.clock.Now()); wait > 0 {
				return campaign.Outcome{}, kith.Errorf(kith.EUNAVAILABLE, "wecommoment: batch %d's moment is not listed yet; asking again in %s before concluding it was never made",
					d.BatchID, wait.Round(time.Second))
			}
			return campaign.Outcome{}, nil
		}
		cursor = page.NextCursor
	}
}

// held returns the moment ids other batches hold.
func (r *Reconciler) held(ctx context.Context, batch int64) (map[string]bool, error) {
	rows, err := r.db.R.QueryContext(ctx, "SELECT moment_id FROM moment_tasks WHERE moment_id <> '' AND batch_id <> $1", batch)
	if err != nil {
		return nil, fmt.Errorf("wecommoment: known moments: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// senderOf reports whether member is a sender of moment id.
func senderOf(ctx context.Context, client *wecom.Client, id, member string) (bool, error) {
	cursor := ""
	for {
		page, err := client.MomentTask(ctx, id, cursor)
		if err != nil {
			return false, fmt.Errorf("wecommoment: senders of %s: %w", id, err)
		}
		for _, t := range page.List {
			if t.UserID == member {
				return true, nil
			}
		}
		if page.NextCursor == "" {
			return false, nil
		}
		cursor = page.NextCursor
	}
}

// contentOf turns a listed moment back into campaign content, to hash it.
func contentOf(m wecom.Moment) campaign.Content {
	c := campaign.Content{Text: m.Text.Content}
	for _, img := range m.Image {
		c.Attachments = append(c.Attachments, campaign.Attachment{Type: "image", MediaID: img.MediaID})
	}
	if m.Video != nil && m.Video.MediaID != "" {
		c.Attachments = append(c.Attachments, campaign.Attachment{Type: "video", MediaID: m.Video.MediaID})
	}
	if m.Link != nil && m.Link.URL != "" {
		c.Attachments = append(c.Attachments, campaign.Attachment{Type: "link", Title: m.Link.Title, URL: m.Link.URL})
	}
	return c
}

var _ campaign.Reconciler = (*Reconciler)(nil)
