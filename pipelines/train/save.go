package train

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/glmflow/glmflow/datasets/loader"
	"github.com/glmflow/glmflow/pipelines/checkpoint"
	"github.com/glmflow/glmflow/pipelines/spec"
	"github.com/glmflow/glmflow/pipelines/transport"
	"github.com/glmflow/glmflow/tensors"
)

// refTag carries a rank's checkpoint entry to rank 0.
func refTag(step int) transport.Tag {
	return transport.Tag{Kind: transport.Control, Chunk: -2, MB: step}
}

// save writes checkpoint step for the ranks of this process; rank 0 commits once every rank
// has written (multi-process ranks send their entries to rank 0).
func save(ctx context.Context, s *spec.Spec, ranks []*rank, step int, cur loader.Cursor) error {
	curJSON, err := cur.Marshal()
	if err != nil {
		return err
	}
	fsys := checkpoint.OS()
	refs := map[int]checkpoint.RankRef{}
	var t transport.Transport
	for _, r := range ranks {
		w := r.worker
		t = w.Transport
		ts := map[string]*tensors.Tensor{}
		for _, p := range w.Optimizer.Params() {
			h, err := cpuHost(p.Value)
			if err != nil {
				return err
			}
			ts[p.Name] = h
		}
		state, osteps, err := w.Optimizer.State()
		if err != nil {
			return err
		}
		for n, x := range state {
			ts[n] = x
		}
		ref, err := checkpoint.WriteRank(fsys, s.Checkpoint.Dir, step, checkpoint.RankState{Rank: w.Rank, World: w.P,
			Iteration: step, Loader: json.RawMessage(curJSON),
			Extra: map[string]string{"optimizer_steps": fmt.Sprint(osteps)}}, ts)
		if err != nil {
			return fmt.Errorf("train: rank %d: %w", w.Rank, err)
		}
		refs[w.Rank] = ref
	}
	P := ranks[0].worker.P
	if len(ranks) < P { // one process per rank: gather the entries on rank 0
		me := ranks[0].worker.Rank
		if me != 0 {
			b, _ := json.Marshal(refs[me])
			x := tensors.New(tensors.U8, len(b))
			copy(x.Bytes(), b)
			return t.Send(ctx, 0, refTag(step), transport.Tensors{"ref": x})
		}
		for r := 1; r < P; r++ {
			ts, err := t.Recv(ctx, r, refTag(step))
			if err != nil {
				return err
			}
			var ref checkpoint.RankRef
			if x := ts["ref"]; x == nil || json.Unmarshal(x.Bytes(), &ref) != nil {
				return fmt.Errorf("train: rank %d sent a malformed checkpoint entry", r)
			}
			refs[r] = ref
		}
	}
	m := checkpoint.Manifest{Step: step, World: P, Spec: string(s.Canonical())}
	for r := range P {
		m.Ranks = append(m.Ranks, refs[r])
	}
	if err := checkpoint.Commit(fsys, s.Checkpoint.Dir, m); err != nil {
		return err
	}
	if s.Checkpoint.Keep > 0 {
		return checkpoint.Prune(fsys, s.Checkpoint.Dir, s.Checkpoint.Keep)
	}
	return nil
}

func cpuHost(t *tensors.Tensor) (*tensors.Tensor, error) {
	if t.Bytes() == nil {
		return nil, fmt.Errorf("train: %v is not in host memory (device checkpoints need a download)", t)
	}
	return t, nil
}
