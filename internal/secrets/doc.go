// Package secrets keeps the instance secrets: the keys that sign sessions,
// encrypt protected fields and compute blind indexes. They are generated on
// first start into a 0600 file in the data folder, or taken from the
// environment (for clusters, where every node needs the same keys).
//
// The field key can be rotated: a new key becomes the current one (new
// values are sealed under it) and the keys before it stay as previous field
// keys, which still open values, until `kith keys rotate` has re-sealed
// every value and `kith keys retire` drops them.
package secrets
