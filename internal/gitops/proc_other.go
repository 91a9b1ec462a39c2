//go:build !unix

package gitops

import "os/exec"

// killGroupOnCancel keeps exec's default of killing git alone.
func killGroupOnCancel(*exec.Cmd) {}
