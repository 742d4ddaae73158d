// Package campaign plans and runs campaigns (issue 7): a message with a
// purpose (service or marketing), a channel (wecom, sms or email), content,
// an audience (a saved segment snapshotted when the campaign starts, or tag
// filters) and a schedule (now, a time, or a recurring rule).
//
// A campaign moves draft → scheduled → running → done, cancelled or
// failed; Transition refuses any other move. Planning snapshots the
// audience, asks the gate about every recipient in batches (DecideBatch),
// and writes one delivery row per recipient × campaign × channel: refused
// (with the gate's reason) or planned, grouped by the WeCom member who will
// send it. Preview does the same without writing, to show the audience's
// size, the refusals by reason and an SMS cost estimate.
//
// Sending is at most once. A delivery moves planned → claimed → sent,
// failed or unknown (and sent → delivered or failed as the platform
// reports). A batch is written 'calling' before its channel is called and
// its permits are consumed together with the deliveries' move to claimed
// (channel.Claimer); the call's results settle it. A batch still 'calling'
// when a run starts is in doubt: a Reconciler asks the platform what
// happened (WeCom: the member's group-message tasks in the window, matched
// by content hash) and only what it proves was never sent returns to
// planned; a channel without one (SMS, e-mail) marks the batch's
// deliveries unknown, for an operator to decide, and never resends them.
//
// Nothing here sends by itself: a Transport (internal/channel/...) takes
// the gate's permits and calls the platform. The engine's exported
// functions are named so that the gate's onlyway test holds: none is
// Send-like without a Permit.
package campaign
