// Package stages defines the Stage: one typed node of glmflow's training DAG (vision encode,
// token embed, a range of decoder layers, head + loss). A stage owns its parameters, runs
// Forward per micro-batch, keeps what its backward needs per micro-batch id, and splits the
// backward in two — BackwardInput (gradients for upstream stages, on the critical path of a
// pipeline) and BackwardWeight (parameter gradients, which a zero-bubble schedule may delay).
//
// Ports type the edges: every input and output has a name, a dtype and a shape template of
// symbols ("B", "T", "D") or fixed sizes, and says whether a gradient flows back through it.
// The DAG (pipelines/) checks ports when it is built; stages check the tensors they get.
//
// Model code here is single-device: pipeline, expert and data parallelism are applied from
// outside (pipelines/). The GLM-4.5V stages live in stages/glm4v.
//
// Shape vocabulary: B batch, T tokens, D hidden, H heads, K kv heads, E experts, k top-k,
// P patches, V vocab.
package stages
