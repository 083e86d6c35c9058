//go:build !cgo

package gpuinfo

import "errors"

// discoverNVML is unavailable without cgo: go-nvml needs it. The driver API answers instead.
func discoverNVML() (Report, error) {
	return Report{}, errors.New("NVML not built in (CGO_ENABLED=0); asking the CUDA driver")
}
