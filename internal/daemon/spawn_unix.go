//go:build unix

package daemon

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// startDetached starts exe in a new session so it survives the stdio
// process (and the MCP client's process group) that started it.
func startDetached(exe string, args, env []string, out *os.File) (*child, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = env
	cmd.Dir = "/" // do not pin the starter's working directory
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			c.code = ee.ExitCode()
		default:
			c.code = -1
		}
		close(c.done)
	}()
	return c, nil
}
