//go:build linux || darwin || freebsd || netbsd || openbsd

package demo

import (
	"syscall"
	"unsafe"
)

// TerminalSize is the width and height of the terminal open as fd; zero
// when fd is no terminal.
func TerminalSize(fd uintptr) (width, height int) {
	var ws struct{ Row, Col, X, Y uint16 }
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws))); errno != 0 {
		return 0, 0
	}
	return int(ws.Col), int(ws.Row)
}
