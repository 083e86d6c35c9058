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
func PlanBuilder(s *spec.Spec, r int) (*RankParts, error) {
	rp, err := plan.BuildRank(s, r, cpu.New())
	if err != nil {
		return nil, err
	}
	return &RankParts{Chunks: rp.Chunks, PadID: int32(rp.Plan.Config.Text.PadTokenID)}, nil
}
