//go:build !unix

package daemon

// DataDirHeld is not known without flock.
func DataDirHeld(string) (bool, int) { return false, 0 }
