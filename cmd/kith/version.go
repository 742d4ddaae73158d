package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/kith-scrm/kith/internal/app"
)

func cmdVersion(stdout io.Writer) error {
	_, err := fmt.Fprintf(stdout, "kith %s (%s, %s/%s)\n", app.BuildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
