package launch

import "syscall"

// sysProcAttr kills a child when the launcher dies (no orphans) and puts it in its own
// process group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
