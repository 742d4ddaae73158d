// Package auth owns who may do what: console users with argon2id password
// hashes, their sessions, API tokens, sign-in rate limits, and the roles and
// permissions that every route checks.
//
// Secrets handed to people (session cookies, API tokens, one-time passwords)
// are random and shown once; the database keeps only their SHA-256 (tokens,
// sessions) or argon2id hash (passwords).
package auth
