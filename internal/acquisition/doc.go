// Package acquisition is how customers come to the merchant the lawful way:
// the customer scans a channel code (「联系我」 contact way) or taps a
// customer-acquisition link (获客助手), and Kith routes, greets, tags and
// counts. Kith never adds anyone (DESIGN, "The line it never crosses", 2).
//
// A Channel has members: some always on its code, some on it only within
// the weekday × time windows of its schedule (shifts, which must not
// overlap), and backups used when nobody else is available. A daily cap
// takes a member off the code once that many new customers arrived through
// the channel that day (in the instance's time zone) until the next day.
// Roster computes who is on the code at a moment; Refresh puts that list
// on WeCom with update_contact_way (or update_link) when it changed, from a
// job that runs every minute, when a cap is reached and when a member
// leaves.
//
// Every customer who arrives records the channel through the follow
// relation's state (WeCom returns the code's state, or a link's
// customer_channel). Arrive, called while an add_external_contact event is
// applied, sends the channel's welcome message (or the default) once with
// the event's welcome code through a gate permit, marks the arrival tags
// with mark_tag and records the arrival. Statistics count new and lost
// customers per channel, member and day from the follow relations.
//
// The package knows nothing of HTTP or of WeCom's wire format: it calls
// WeCom through the Platform and Welcomer interfaces, which
// internal/wecom/wecomsync and internal/channel/wecomwelcome implement.
package acquisition
