package train

import (
	"fmt"
	"path/filepath"

	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/pipelines/layout"
	"github.com/glmflow/glmflow/pipelines/run"
	"github.com/glmflow/glmflow/pipelines/spec"
	"github.com/glmflow/glmflow/stages"
	"github.com/glmflow/glmflow/stages/glm4v"
)

// BuildGLM4V is the Builder for GLM-4.5V models in a local HF directory (spec model.path):
// it cuts the model by the spec's layout and builds rank r's chunks — vision, embed, one
// decoder stage per chunk for its layers, head — loading only their tensors, with the spec's
// precision, recompute and freeze flags, on the CPU backend.
func BuildGLM4V(s *spec.Spec, r int) (*RankParts, error) {
	cfg, err := glm4v.LoadConfig(filepath.Join(s.Model.Path, glm4v.ConfigName))
	if err != nil {
		return nil, err
	}
	if s.Parallel.Layout == "" {
		return nil, fmt.Errorf("parallel.layout is empty: give a layout (automatic balance: see glmflow run --dry-run)")
	}
	l, err := layout.Parse(s.Parallel.Layout, s.Parallel.PP)
	if err != nil {
		return nil, err
	}
	if err := l.Validate(layout.Model{DecoderLayers: cfg.Text.NumHiddenLayers, VisionUnits: 1}); err != nil {
		return nil, fmt.Errorf("parallel.layout %q for %s: %w", s.Parallel.Layout, s.Model.Path, err)
	}
	if s.PEFT.FreezeVisionModel != s.PEFT.FreezeVisionProjection {
		return nil, fmt.Errorf("peft.freeze_vision_model and peft.freeze_vision_projection must be equal: the vision stage (tower and merger) is frozen as a whole")
	}
	be := cpu.New()
	parts := &RankParts{PadID: int32(cfg.Text.PadTokenID)}
	for _, st := range l.RankStages(r) {
		from := 0
		for j := range st {
			from += l.Count(j, layout.Decoder)
		}
		to := from + l.Count(st, layout.Decoder)
		p, err := glm4v.NewParams(cfg)
		if err != nil {
			return nil, err
		}
		var sels []glm4v.Selector
		for _, k := range l.Stages[st] {
			switch k {
			case layout.Vision:
				sels = append(sels, glm4v.SelectVision())
			case layout.Embedding:
				sels = append(sels, glm4v.SelectEmbed())
			case layout.Loss:
				sels = append(sels, glm4v.SelectHead())
				if cfg.TieWordEmbeddings {
					sels = append(sels, glm4v.SelectEmbed())
				}
			}
		}
		if to > from {
			sels = append(sels, glm4v.SelectLayers(from, to))
		}
		if err := glm4v.Load(s.Model.Path, p, glm4v.Any(sels...)); err != nil {
			return nil, fmt.Errorf("pipeline stage %d: %w", st, err)
		}
		sc := glm4v.StageConfig{Params: p, Backend: be, Frozen: s.PEFT.FreezeLanguageModel, Precision: s.Model.Precision}
		c := &run.Chunk{Stage: st}
		dec := false
		for _, k := range l.Stages[st] {
			var x stages.Stage
			switch k {
			case layout.Vision:
				x, err = glm4v.NewVisionStage(glm4v.VisionStageConfig{Backend: be, Params: p, Frozen: s.PEFT.FreezeVisionModel,
					Precision: s.Model.Precision, Recompute: s.Model.Recompute})
			case layout.Embedding:
				x, err = glm4v.NewEmbed(glm4v.EmbedConfig{StageConfig: sc})
			case layout.Decoder:
				if dec {
					continue
				}
				dec = true
				x, err = glm4v.NewDecoder(glm4v.DecoderConfig{StageConfig: sc, From: from, To: to, Recompute: s.Model.Recompute})
			case layout.Loss:
				x, err = glm4v.NewHead(glm4v.HeadConfig{StageConfig: sc, Recompute: s.Model.Recompute})
			default:
				err = fmt.Errorf("layout unit %v is not supported by GLM-4.5V", k)
			}
			if err != nil {
				return nil, fmt.Errorf("pipeline stage %d: %w", st, err)
			}
			c.Stages = append(c.Stages, x)
		}
		parts.Chunks = append(parts.Chunks, c)
	}
	return parts, nil
}
