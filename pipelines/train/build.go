package train

import (
	"github.com/glmflow/glmflow/kernels/cpu"
	"github.com/glmflow/glmflow/pipelines/plan"
	"github.com/glmflow/glmflow/pipelines/spec"
)

// PlanBuilder is the Builder for GLM-4.5V models: pipelines/plan resolves the model (a
// directory or a hub id in the local HF cache), cuts it by the spec's layout (or balances
// one), checks the DAG, and builds rank r's chunks on the CPU backend, loading only their
// tensors, with the spec's precision, recompute and freeze flags.
// It plans the spec on every call; Run, given no Builder, plans once for all its ranks.
func PlanBuilder(s *spec.Spec, r int) (*RankParts, error) {
	p, err := plan.New(s)
	if err != nil {
		return nil, err
	}
	return planBuilder(p)(s, r)
}

// planBuilder builds ranks of an existing plan.
func planBuilder(p *plan.Plan) Builder {
	return func(_ *spec.Spec, r int) (*RankParts, error) {
		rp, err := p.BuildRank(r, cpu.New())
		if err != nil {
			return nil, err
		}
		return &RankParts{Chunks: rp.Chunks, PadID: int32(rp.Plan.Config.Text.PadTokenID)}, nil
	}
}
