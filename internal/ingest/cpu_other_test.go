//go:build !unix

package ingest_test

import "time"

// processCPU cannot be read here; the benchmark's CPU figure is then 0.
func processCPU() time.Duration { return 0 }
