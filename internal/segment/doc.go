// Package segment answers "which customers": a small expression language an
// operator can read (tag:"VIP" and not channel:"双11直播" and reachable:wecom),
// its reference SQL for both dialects, and a roaring-bitmap index that
// answers the same question in milliseconds.
package segment
