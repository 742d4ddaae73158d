// Package customer owns customers, the WeCom members who follow them, the
// follow relations between the two, and corp tags.
//
// One customer followed by several members is one Customer with several
// Follow relations. The package knows nothing of WeCom's API: the sync code
// in internal/wecom/wecomsync maps API answers and callback events onto the
// Apply… methods here, each of which is idempotent, so a replayed event or
// a repeated sync changes nothing twice.
package customer
