package tensors

import (
	"fmt"
	"strconv"
	"strings"
)

// Device names where a tensor's storage lives: "cpu" or "cuda:N".
type Device struct {
	CUDA  bool // false: host memory
	Index int  // CUDA ordinal; 0 for cpu
}

// CPU is the host device.
var CPU = Device{}

// CUDA returns the device "cuda:i".
func CUDA(i int) Device { return Device{CUDA: true, Index: i} }

func (d Device) String() string {
	if d.CUDA {
		return "cuda:" + strconv.Itoa(d.Index)
	}
	return "cpu"
}

// ParseDevice parses "cpu", "cuda" (= cuda:0) or "cuda:N".
func ParseDevice(s string) (Device, error) {
	switch {
	case s == "cpu":
		return CPU, nil
	case s == "cuda":
		return CUDA(0), nil
	case strings.HasPrefix(s, "cuda:"):
		i, err := strconv.Atoi(s[len("cuda:"):])
		if err != nil || i < 0 {
			return Device{}, fmt.Errorf("bad device %q: want cpu or cuda:N", s)
		}
		return CUDA(i), nil
	}
	return Device{}, fmt.Errorf("bad device %q: want cpu or cuda:N", s)
}
