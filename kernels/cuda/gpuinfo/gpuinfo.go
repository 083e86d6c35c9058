package gpuinfo

import (
	"fmt"
	"io"
	"strings"

	"github.com/glmflow/glmflow/kernels/cuda/driver"
)

// GPU is one device.
type GPU struct {
	Index            int
	Name             string
	CCMajor, CCMinor int
	SMs              int    // 0: unknown
	MemTotal         uint64 // bytes
	MemFree          uint64 // bytes
	MemUsed          uint64 // bytes
	UtilGPU, UtilMem int    // percent; -1: unknown
}

// Report is what discovery found.
type Report struct {
	Source        string // "nvml" or "driver"
	DriverVersion string // NVML's driver version or the CUDA driver API version ("13.0")
	GPUs          []GPU
	Notes         []string // why a source was skipped
}

// Discover lists the GPUs, trying NVML first where built with cgo, then the driver API. An
// error means neither found a device; its text says why.
func Discover() (Report, error) {
	var notes []string
	if r, err := discoverNVML(); err == nil && len(r.GPUs) > 0 {
		return r, nil
	} else if err != nil {
		notes = append(notes, err.Error())
	}
	d, err := driver.Load()
	if err != nil {
		return Report{Notes: notes}, err
	}
	r, err := FromDriver(d)
	r.Notes = append(notes, r.Notes...)
	return r, err
}

// FromDriver lists the GPUs through the CUDA driver API.
func FromDriver(d *driver.Driver) (Report, error) {
	r := Report{Source: "driver"}
	if err := d.Init(); err != nil {
		return r, fmt.Errorf("CUDA driver present but %w; using the CPU backend", err)
	}
	if v, err := d.Version(); err == nil {
		r.DriverVersion = fmt.Sprintf("CUDA %d.%d", v/1000, v%1000/10)
	}
	n, err := d.DeviceCount()
	if err != nil {
		return r, err
	}
	if n == 0 {
		return r, fmt.Errorf("CUDA driver reports no devices; using the CPU backend")
	}
	for i := range n {
		g, err := deviceInfo(d, i)
		if err != nil {
			return r, fmt.Errorf("device %d: %w", i, err)
		}
		r.GPUs = append(r.GPUs, g)
	}
	return r, nil
}

func deviceInfo(d *driver.Driver, i int) (GPU, error) {
	g := GPU{Index: i, UtilGPU: -1, UtilMem: -1}
	dev, err := d.DeviceGet(i)
	if err != nil {
		return g, err
	}
	if g.Name, err = d.DeviceName(dev); err != nil {
		return g, err
	}
	if g.MemTotal, err = d.DeviceTotalMem(dev); err != nil {
		return g, err
	}
	attrs := []struct {
		a   driver.Attribute
		dst *int
	}{{driver.AttrComputeCapabilityMajor, &g.CCMajor}, {driver.AttrComputeCapabilityMinor, &g.CCMinor},
		{driver.AttrMultiprocessorCount, &g.SMs}}
	for _, a := range attrs {
		if *a.dst, err = d.DeviceAttribute(dev, a.a); err != nil {
			return g, err
		}
	}
	// Free memory needs a context: the primary one, pushed and popped around the query.
	ctx, err := d.PrimaryCtxRetain(dev)
	if err != nil {
		return g, err
	}
	defer d.PrimaryCtxRelease(dev)
	if err := d.CtxPush(ctx); err != nil {
		return g, err
	}
	free, total, err := d.MemGetInfo()
	if _, perr := d.CtxPop(); err == nil {
		err = perr
	}
	if err != nil {
		return g, err
	}
	g.MemFree, g.MemUsed = free, total-free
	return g, nil
}

// Write prints the report as text.
func (r Report) Write(w io.Writer) {
	fmt.Fprintf(w, "source: %s", r.Source)
	if r.DriverVersion != "" {
		fmt.Fprintf(w, "  driver: %s", r.DriverVersion)
	}
	fmt.Fprintln(w)
	for _, g := range r.GPUs {
		fmt.Fprintf(w, "cuda:%d  %s", g.Index, g.Name)
		if g.CCMajor > 0 {
			fmt.Fprintf(w, "  sm_%d%d", g.CCMajor, g.CCMinor)
		}
		if g.SMs > 0 {
			fmt.Fprintf(w, "  %d SMs", g.SMs)
		}
		fmt.Fprintf(w, "  memory %s total, %s free", gib(g.MemTotal), gib(g.MemFree))
		if g.UtilGPU >= 0 {
			fmt.Fprintf(w, "  util %d%% (mem %d%%)", g.UtilGPU, g.UtilMem)
		}
		fmt.Fprintln(w)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "notes: %s\n", strings.Join(r.Notes, "; "))
	}
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
