// Package wecomsync keeps Kith's customers, members and corp tags in step
// with WeCom: a full sync that pulls everything through the API, the
// Applier that turns callback events into local changes (fetching details
// from the API first), and write-through operations (tags, remarks) that
// update local state at once, since WeCom sends no callback for changes made
// through its API.
//
// It is the adapter between internal/wecom (the API client and callback
// protocol) and internal/customer (the domain), so neither knows the other.
package wecomsync
