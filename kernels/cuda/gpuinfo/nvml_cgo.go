//go:build cgo

package gpuinfo

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// discoverNVML lists GPUs through NVML. Nothing but Init is called unless Init succeeded.
func discoverNVML() (Report, error) {
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		return Report{}, fmt.Errorf("NVML unavailable: %v", nvml.ErrorString(ret))
	}
	defer nvml.Shutdown()
	r := Report{Source: "nvml"}
	if v, ret := nvml.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		r.DriverVersion = v
	}
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return r, fmt.Errorf("nvmlDeviceGetCount: %v", nvml.ErrorString(ret))
	}
	for i := range n {
		dev, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return r, fmt.Errorf("nvmlDeviceGetHandleByIndex(%d): %v", i, nvml.ErrorString(ret))
		}
		g := GPU{Index: i, UtilGPU: -1, UtilMem: -1}
		if g.Name, ret = dev.GetName(); ret != nvml.SUCCESS {
			return r, fmt.Errorf("nvmlDeviceGetName(%d): %v", i, nvml.ErrorString(ret))
		}
		if m, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
			g.MemTotal, g.MemFree, g.MemUsed = m.Total, m.Free, m.Used
		}
		if u, ret := dev.GetUtilizationRates(); ret == nvml.SUCCESS {
			g.UtilGPU, g.UtilMem = int(u.Gpu), int(u.Memory)
		}
		if a, b, ret := dev.GetCudaComputeCapability(); ret == nvml.SUCCESS {
			g.CCMajor, g.CCMinor = a, b
		}
		r.GPUs = append(r.GPUs, g)
	}
	return r, nil
}
