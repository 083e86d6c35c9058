// Package graph is glmflow's training DAG as data: typed nodes (the batch a rank reads, the
// vision tower, the token embedding, decoder layer ranges, the head with its loss, and one
// optimizer per rank) joined by edges that carry activations forward; where both ends of an
// edge are Grad ports its gradient flows back along the same edge. Every node knows its
// pipeline rank, virtual stage (chunk) and global stage, so the graph is also the picture of
// the partition.
//
// # Building and checking
//
// New, AddNode, Connect and ConnectParams build a graph by hand; FromLayout builds the
// GLM-4.5V graph of a pipeline layout with the ports of the glm4v stages (ports.go) and wires
// it the way pipelines/run wires chunks: an input is the latest output of that name earlier in
// the same pipeline stage, else the previous stage's message (the outputs of its last node),
// else the micro-batch. Check reports, all together and naming nodes and ports:
//   - ports that do not fit (stages.Compatible: dtype, rank, fixed sizes, Grad on both ends),
//     an input fed twice, an edge to a port that does not exist;
//   - activation edges that skip a pipeline stage or run backwards (the executor only sends to
//     the next stage);
//   - cycles;
//   - required inputs with no producer (Node.Optional lists the ports a text-only batch may
//     leave out);
//   - outputs with a gradient that nothing consumes (other than the loss outputs, whose
//     gradient the schedule seeds with 1), because their gradient would never arrive.
//
// # Rendering
//
// DOT writes Graphviz source with one cluster per rank (and one per chunk inside it when
// there are virtual stages); edges between ranks are drawn heavier, edges that carry a
// gradient back have arrows at both ends, parameter-gradient edges into the optimizer are
// dashed. SVG renders that source with github.com/goccy/go-graphviz, which runs Graphviz
// compiled to WebAssembly (wazero): no external program, no cgo. The output is a pure
// function of the graph.
//
// Non-goals: executing anything (pipelines/run), choosing the layout (pipelines/layout,
// pipelines/plan), parameter and cost accounting beyond the counts a caller fills in
// (pipelines/plan).
package graph
