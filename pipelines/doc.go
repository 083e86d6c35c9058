// Package pipelines holds the YAML pipelines users run (glm45v_lora.yaml, glm45v_tiny.yaml)
// and, in sub-packages, the engine around them:
//
//   - spec: strict YAML decoding, key=value overrides, validation
//   - hfhub: Hugging Face cache lookup and downloads
//   - layout: Megatron layout strings (with V for the vision tower), balancing
//   - schedule: GPipe, 1F1B, interleaved 1F1B, ZB-H1 as action lists; the simulator
//   - graph: the typed training DAG, DOT/SVG
//   - plan: planning a spec, building ranks, the dry run
//   - run: the per-rank executor; transport: in-process and TCP; launch: local processes
//   - checkpoint: crash-safe per-rank checkpoints
//   - train: `glmflow run`; bench: the pipeline benchmarks
package pipelines
