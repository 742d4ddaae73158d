//go:build !unix

package email

// closedByServer cannot look at the socket here: a connection the server
// closed while idle then fails after the write, and its message counts as
// Unknown (never sent again) rather than being tried on a new connection.
func closedByServer(*conn) bool { return false }
