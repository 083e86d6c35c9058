//go:build amd64 && !purego

package softmax

import "golang.org/x/sys/cpu"

var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
)

func init() {
	switch {
	case hasAVX512:
		path = pathAVX512
	case hasAVX2:
		path = pathAVX2
	}
}

// available reports whether this build and CPU can run path p.
func available(p int) bool {
	switch p {
	case pathAVX512:
		return hasAVX512
	case pathAVX2:
		return hasAVX2
	}
	return true
}
