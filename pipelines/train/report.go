package train

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/glmflow/glmflow/pipelines/run"
)

// record is one step's metrics line (Logging.MetricsJSONL).
type record struct {
	Step       int     `json:"step"` // 1-based: optimizer steps completed after this one
	Loss       float64 `json:"loss"`
	AuxLoss    float64 `json:"aux_loss"`
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"`
	Clipped    bool    `json:"clipped"`
	Skipped    bool    `json:"skipped"`
	NonFinite  []int   `json:"nonfinite_ranks,omitempty"`
	Tokens     int     `json:"tokens"`
	LossTokens int     `json:"loss_tokens"`
	StepTime   float64 `json:"step_time_s"`
	TokensPerS float64 `json:"tokens_per_s"`
	Elapsed    float64 `json:"elapsed_s"`
	ETA        float64 `json:"eta_s"`
	Total      int     `json:"total_steps"`
}

func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return -1 // JSON has no NaN; the skipped flag says why
	}
	return x
}

func stepRecord(it int, res run.Result, tokens, lossTokens int, dt, elapsed time.Duration, total int) record {
	r := record{Step: it + 1, Loss: finite(res.Loss), AuxLoss: res.AuxLoss, LR: res.Step.LR, GradNorm: finite(res.Step.Norm),
		Clipped: res.Step.Clipped, Skipped: res.Step.Skipped, NonFinite: res.NonFinite, Tokens: tokens, LossTokens: lossTokens,
		StepTime: dt.Seconds(), Elapsed: elapsed.Seconds(), Total: total}
	if dt > 0 {
		r.TokensPerS = float64(tokens) / dt.Seconds()
	}
	r.ETA = elapsed.Seconds() / float64(it+1) * float64(total-it-1)
	return r
}

// line is the plain log line.
func (r record) line() string {
	s := fmt.Sprintf("step %d/%d  loss %.4f  lr %.3g  grad_norm %.3f  %d tok  %.0f tok/s  %.3fs/step  eta %s",
		r.Step, r.Total, r.Loss, r.LR, r.GradNorm, r.Tokens, r.TokensPerS, r.StepTime, fmtDur(r.ETA))
	if r.AuxLoss != 0 {
		s += fmt.Sprintf("  aux %.4g", r.AuxLoss)
	}
	if r.Clipped {
		s += "  clipped"
	}
	if r.Skipped {
		s += "  SKIPPED"
	}
	return s
}

// bar is the terminal progress line.
func (r record) bar() string {
	const width = 24
	done := width * r.Step / max(1, r.Total)
	return fmt.Sprintf("[%s%s] %d/%d  loss %.4f  %.0f tok/s  %.2fs/step  eta %s",
		strings.Repeat("█", done), strings.Repeat("░", width-done), r.Step, r.Total, r.Loss, r.TokensPerS, r.StepTime, fmtDur(r.ETA))
}

func fmtDur(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	return d.String()
}
