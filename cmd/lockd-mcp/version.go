package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); without
// it the module version recorded by the Go toolchain is used.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// runVersion prints the version on stdout, where scripts look for it.
func runVersion(_ context.Context, _ []string, _ func(string) string, _ io.Writer) error {
	_, err := fmt.Fprintln(os.Stdout, "lockd-mcp", versionString())
	return err
}
