//go:build unix

package gitops

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel runs git in its own process group and kills the whole
// group when the context ends: a fetch or push runs helpers (remote-https,
// upload-pack) that would otherwise outlive the cancelled git.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
