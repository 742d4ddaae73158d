// Package kith holds the few types every other package shares: application
// errors with codes that the web layer maps to HTTP statuses, and the Clock
// that services use instead of calling time.Now deep in domain code.
package kith
