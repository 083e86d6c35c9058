package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/glmflow/glmflow/kernels"
	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/kernels/cuda"
	"github.com/glmflow/glmflow/kernels/cuda/cublas"
	"github.com/glmflow/glmflow/kernels/cuda/driver"
	"github.com/glmflow/glmflow/kernels/cuda/gpucheck"
	"github.com/glmflow/glmflow/kernels/cuda/gpuinfo"
	"github.com/glmflow/glmflow/kernels/cuda/nccl"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/glm4v"
	"github.com/glmflow/glmflow/tensors"
)

// newGpuCmd is `glmflow gpu` (what GPUs and CUDA libraries this machine has, or why none) and
// `glmflow gpu check` (the GPU self-check `make gpu-check` runs).
func newGpuCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gpu",
		Short: "Show the GPUs and CUDA libraries glmflow finds (or why none)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			writeGPUInfo(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.AddCommand(newGpuCheckCmd())
	return cmd
}

// writeGPUInfo prints discovery and the library search results; absence is reported, not an
// error (the CPU backend is used then).
func writeGPUInfo(w io.Writer) {
	rep, err := gpuinfo.Discover()
	if err != nil {
		fmt.Fprintf(w, "no GPU: %v\n", err)
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "  (%s)\n", n)
		}
	} else {
		rep.Write(w)
	}
	if d, err := driver.Load(); err == nil {
		fmt.Fprintf(w, "libcuda:  %s\n", d.Lib.Path)
	}
	if l, err := cublas.Load(); err == nil {
		fmt.Fprintf(w, "cuBLAS:   %s\n", l.Lib.Path)
	} else {
		fmt.Fprintf(w, "cuBLAS:   %v\n", err)
	}
	if l, err := nccl.Load(); err == nil {
		v, _ := l.Version()
		fmt.Fprintf(w, "NCCL:     %s (version %d)\n", l.Lib.Path, v)
	} else {
		fmt.Fprintf(w, "NCCL:     %v\n", err)
	}
	_, note, _ := cuda.Select("auto")
	fmt.Fprintf(w, "backend:  %s\n", note)
}

type gpuCheckOpts struct {
	report, layerJSON, repo string
	seed                    uint64
	gemmN, tokens           int
	skipLayer               bool
}

func newGpuCheckCmd() *cobra.Command {
	var o gpuCheckOpts
	cmd := &cobra.Command{
		Use:   "check",
		Short: "GPU self-check: ops vs the CPU backend, GEMM TFLOP/s, MoE layer and tiny-model timings",
		Long: `check writes a Markdown report (flushed after every section): device info; the backend
conformance suite on CUDA; every op on fresh random inputs against the CPU backend (poisoned
outputs, every element, dtype-scaled tolerances); bf16 GEMM TFLOP/s; the tiny GLM-4.5V training
step on GPU and CPU; one real-size GLM-4.5V MoE decoder layer forward+backward. It exits non-zero
when a check fails; without a GPU the report says why.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.seed == 0 {
				o.seed = uint64(time.Now().UnixNano())
			}
			n := runGPUCheck(o, cmd.OutOrStdout())
			if n > 0 {
				return fmt.Errorf("gpu check: %d failure(s); see %s", n, o.report)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.report, "report", "gpu-check.md", "Markdown report path")
	f.StringVar(&o.layerJSON, "layer-json", "", "also write the decoder-layer timing as JSON here (for the PyTorch ratio)")
	f.StringVar(&o.repo, "repo", ".", "repository root (testdata/tiny, testdata/glm45v)")
	f.Uint64Var(&o.seed, "seed", 0, "seed of the random op inputs (0: from the clock, printed in the report)")
	f.IntVar(&o.gemmN, "gemm", 8192, "bf16 GEMM size n (n³)")
	f.IntVar(&o.tokens, "tokens", 4096, "tokens of the decoder-layer timing")
	f.BoolVar(&o.skipLayer, "skip-layer", false, "skip the real-size decoder layer")
	return cmd
}

// runGPUCheck runs the sections and returns the number of failures.
func runGPUCheck(o gpuCheckOpts, w io.Writer) int {
	r := gpucheck.NewReport(o.report)
	r.Printf("# glmflow gpu check\n\n%s\n\n", time.Now().UTC().Format(time.RFC3339))
	sections := []gpucheck.Section{gpucheck.DeviceSection()}
	be, err := cuda.New(0)
	if err != nil {
		sections = append(sections, gpucheck.Section{Name: "CUDA backend", Run: func(*gpucheck.Report) error {
			return fmt.Errorf("no CUDA backend: %w", err)
		}})
	} else {
		defer be.Close()
		c := cpu.New()
		sections = append(sections,
			gpucheck.Section{Name: "CUDA backend", Run: func(r *gpucheck.Report) error {
				r.Printf("cuda:0 %s, PTX %s\n\n", be.DeviceName(), be.Arch())
				return nil
			}},
			gpucheck.ConformanceSection(be),
			gpucheck.OpsSection(be, c, o.seed),
			gpucheck.GEMMSection(be, o.gemmN, 10, gpucheck.PeakBF16),
			tinyStepSection(be, c, filepath.Join(o.repo, "testdata", "tiny")))
		if !o.skipLayer {
			sections = append(sections, layerSection(be, filepath.Join(o.repo, "testdata", "glm45v", glm4v.ConfigName), o.tokens, o.layerJSON))
		}
	}
	n := gpucheck.RunSections(r, sections)
	fmt.Fprintf(w, "gpu check: %d failure(s); report %s\n", n, o.report)
	return n
}

// tinyInputs is the batch of the tiny model's golden test: one image of 4 merged patches.
func tinyInputs(cfg glm4v.Config) glm4v.Inputs {
	img, boi, eoi := int64(cfg.ImageTokenID), int64(cfg.ImageStartTokenID), int64(cfg.ImageEndTokenID)
	ids := []int64{1, 2, 3, 4, boi, img, img, img, img, eoi, 5, 6, 7, 8, 9, 10}
	S := len(ids)
	labels := make([]int64, S)
	for i := range labels {
		labels[i] = glm4v.IgnoreIndex
		if i >= 10 {
			labels[i] = ids[i]
		}
	}
	i64 := func(v []int64, shape ...int) *tensors.Tensor {
		t := tensors.New(tensors.I64, shape...)
		copy(t.I64(), v)
		return t
	}
	px := tensors.New(tensors.F32, 16, cfg.Vision.PatchDim())
	for i := range px.F32() {
		px.F32()[i] = float32(math.Sin(float64(i)))
	}
	return glm4v.Inputs{InputIDs: i64(ids, 1, S), Labels: i64(labels, 1, S), PixelValues: px, ImageGridTHW: i64([]int64{1, 4, 4}, 1, 3)}
}

// tinyStepSection runs the tiny GLM-4.5V forward+backward on both backends and compares the
// loss and every gradient.
func tinyStepSection(gpu, host kernels.Backend, dir string) gpucheck.Section {
	return gpucheck.Section{Name: "Tiny GLM-4.5V training step: CUDA vs CPU", Run: func(r *gpucheck.Report) error {
		cfg, err := glm4v.LoadConfig(filepath.Join(dir, glm4v.ConfigName))
		if err != nil {
			return err
		}
		run := func(be kernels.Backend) (*glm4v.Outputs, time.Duration, error) {
			p, err := glm4v.NewParams(cfg)
			if err != nil {
				return nil, 0, err
			}
			if err := glm4v.Load(dir, p, nil); err != nil {
				return nil, 0, err
			}
			m, err := glm4v.NewModel(p, be, glm4v.ModelOptions{})
			if err != nil {
				return nil, 0, err
			}
			t0 := time.Now()
			out, err := m.Run(tinyInputs(cfg), true)
			return out, time.Since(t0), err
		}
		og, tg, err := run(gpu)
		if err != nil {
			return fmt.Errorf("cuda: %w", err)
		}
		oc, tc, err := run(host)
		if err != nil {
			return fmt.Errorf("cpu: %w", err)
		}
		lossErr := math.Abs(float64(og.Loss-oc.Loss)) / math.Abs(float64(oc.Loss))
		r.Printf("loss cuda %.7g, cpu %.7g (rel %.2g); step %.0f ms cuda, %.0f ms cpu\n\n", og.Loss, oc.Loss, lossErr,
			float64(tg.Microseconds())/1e3, float64(tc.Microseconds())/1e3)
		worst, worstName := 0.0, ""
		for _, name := range sortedKeys(oc.Grads) {
			g, c := og.Grads[name], oc.Grads[name]
			if g == nil {
				return fmt.Errorf("cuda run has no gradient %s", name)
			}
			if e := relL2(g.F32(), c.F32()); e > worst || math.IsNaN(e) {
				worst, worstName = e, name
			}
		}
		r.Printf("%d gradients; worst relative L2 error %.2g (%s)\n\n", len(oc.Grads), worst, worstName)
		if lossErr > 1e-4 || !(worst <= 1e-3) {
			return fmt.Errorf("tiny step differs: loss rel %.2g (tol 1e-4), worst gradient %s rel %.2g (tol 1e-3)", lossErr, worstName, worst)
		}
		return nil
	}}
}

func sortedKeys(m map[string]*tensors.Tensor) []string {
	return slices.Sorted(maps.Keys(m))
}

// relL2 is ‖a − b‖/‖b‖ (0 when both are zero).
func relL2(a, b []float32) float64 {
	var num, den float64
	for i := range b {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// layerTiming is what layer-json holds.
type layerTiming struct {
	Device     string  `json:"device"`
	Tokens     int     `json:"tokens"`
	ForwardMS  float64 `json:"forward_ms"`
	BackwardMS float64 `json:"backward_ms"` // input + weight gradients
	TotalMS    float64 `json:"total_ms"`
}

// layerSection builds one real-size GLM-4.5V MoE decoder layer (the text config of
// testdata/glm45v: hidden 4096, 96/8 heads of 128, 128 experts top-8 of width 1408, one shared
// expert) with random HF-style init, bf16 mixed precision, and times forward and backward on
// T tokens of one sequence.
func layerSection(be *cuda.Backend, cfgPath string, T int, jsonPath string) gpucheck.Section {
	return gpucheck.Section{Name: fmt.Sprintf("GLM-4.5V MoE decoder layer, %d tokens, bf16 (fwd+bwd)", T), Run: func(r *gpucheck.Report) error {
		cfg, err := glm4v.LoadConfig(cfgPath)
		if err != nil {
			return err
		}
		cfg.Text.NumHiddenLayers, cfg.Text.FirstKDenseReplace = 1, 0
		p, err := glm4v.NewParams(cfg)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := glm4v.InitParams(p, 1, glm4v.InitOptions{Select: glm4v.SelectLayers(0, 1)}); err != nil {
			return err
		}
		dec, err := glm4v.NewDecoder(glm4v.DecoderConfig{StageConfig: glm4v.StageConfig{Params: p, Backend: be, Precision: "bf16"}, From: 0, To: 1})
		if err != nil {
			return err
		}
		r.Printf("D %d, H %d, K %d, Dh %d, E %d, k %d, F %d, shared %d; init+upload %.1f s; device memory held %.1f GiB\n\n",
			cfg.Text.HiddenSize, cfg.Text.NumAttentionHeads, cfg.Text.NumKeyValueHeads, cfg.Text.HeadDim, cfg.Text.NRoutedExperts,
			cfg.Text.NumExpertsPerTok, cfg.Text.MoEIntermediateSize, cfg.Text.NSharedExperts, time.Since(t0).Seconds(), float64(be.LiveBytes())/(1<<30))
		D := cfg.Text.HiddenSize
		rnd := func(n int, seed float64) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(math.Sin(float64(i)*0.618+seed)) * 0.5
			}
			return v
		}
		hidden, err := be.Upload(tensors.MustF32(rnd(T*D, 1), T, D))
		if err != nil {
			return err
		}
		dOut, err := be.Upload(tensors.MustF32(rnd(T*D, 2), T, D))
		if err != nil {
			return err
		}
		pos := tensors.New(tensors.I32, 3, T)
		for s := range 3 {
			for t := range T {
				pos.I32()[s*T+t] = int32(t)
			}
		}
		mask := tensors.New(tensors.I32, 1, T)
		for i := range mask.I32() {
			mask.I32()[i] = 1
		}
		dpos, err := be.Upload(pos)
		if err != nil {
			return err
		}
		dmask, err := be.Upload(mask)
		if err != nil {
			return err
		}
		in := stages.Tensors{"hidden": hidden, "position_ids": dpos, "attention_mask": dmask}
		step := func(mb int) (fwd, bwd float64, err error) {
			fwd, err = be.Elapsed(func() error { _, err := dec.Forward(mb, in); return err })
			if err != nil {
				return
			}
			bwd, err = be.Elapsed(func() error {
				if _, err := dec.BackwardInput(mb, stages.Tensors{"hidden": dOut}); err != nil {
					return err
				}
				return dec.BackwardWeight(mb)
			})
			return
		}
		if _, _, err := step(0); err != nil { // warm-up: cuBLAS heuristics, arenas
			return err
		}
		var fs, bs []float64
		for i := range 3 {
			f, b, err := step(i + 1)
			if err != nil {
				return err
			}
			fs, bs = append(fs, f), append(bs, b)
		}
		lt := layerTiming{Device: be.DeviceName(), Tokens: T, ForwardMS: med(fs), BackwardMS: med(bs)}
		lt.TotalMS = lt.ForwardMS + lt.BackwardMS
		r.Printf("median of 3: forward **%.1f ms**, backward %.1f ms, total **%.1f ms** (%.0f tokens/s)\n\n",
			lt.ForwardMS, lt.BackwardMS, lt.TotalMS, float64(T)/(lt.TotalMS/1e3))
		if jsonPath != "" {
			b, _ := json.MarshalIndent(lt, "", "  ")
			if err := os.WriteFile(jsonPath, b, 0o644); err != nil {
				return err
			}
		}
		return nil
	}}
}

func med(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
