//go:build race

package client

// raceEnabled: the race detector makes sync.Pool drop items on purpose.
const raceEnabled = true
