// Package fieldcrypt encrypts single values at rest (stored secrets and
// protected personal fields) with AES-256-GCM under the instance's field
// key. A sealed value carries the id of the key that sealed it, so
// keys can be rotated: values sealed under an old key still open while it is
// listed, and are re-sealed under the new one.
package fieldcrypt
