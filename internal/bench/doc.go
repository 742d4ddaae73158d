// Package bench holds Kith's own load measurements, run by `kith bench …`.
// Each compares Kith with a baseline measured in the same run on the same
// machine, so the figures mean something on a shared, noisy host: a ratio
// to the baseline, not an absolute number, is what a goal is set on.
package bench
