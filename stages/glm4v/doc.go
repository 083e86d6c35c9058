// Package glm4v is GLM-4.5V (HF Glm4vMoeForConditionalGeneration) as glmflow stages: the
// typed config, the parameter tree with Hugging Face names, checkpoint load/save and random
// initialisation. The model compute (vision.go, attention.go, moe.go, decoder.go, head.go)
// builds on this tree. Spec: shared/docs/glm45v.md.
//
// # Config (config.go, config_json.go)
//
// LoadConfig/ParseConfig read an HF config.json in the 4.5x spelling of the hub file
// (rope_scaling.mrope_section, rope_theta and partial_rotary_factor in text_config,
// torch_dtype) or the transformers-v5 spelling (rope_parameters{rope_type, rope_theta,
// partial_rotary_factor, mrope_section}, dtype, vision model_type "glm4v_moe_vision") into the
// same Config; unknown keys are ignored, wrong types and missing shape keys are errors that
// name the file and the key. Config.Validate checks the invariants the model relies on;
// Config.JSON writes the 4.5x spelling the way save_pretrained formats it.
//
// # Parameters (params.go, select.go)
//
// Params is a struct tree whose fields carry hf:"…" tags; NewParams builds it for a config
// (shapes, checkpoint dtypes, init rules; no tensor memory) and names every slot by
// reflection, joining tags with '.' and slice indices (model.visual.blocks.3.attn.qkv.weight).
// A compute file reaches its weights as fields (p.Language.Layers[i].Attn.Q.Weight.T) and
// generic code as a list (Walk, Select with a Selector such as SelectLayers(0, 8)); the
// compute files add their Forward/Backward methods to these types (Attention, MoE, Vision,
// …) or wrap them in stages. Specs lists
// the hub checkpoint's tensors: for zai-org/GLM-4.5V 18,106 tensors, 107,710,933,120
// parameters.
//
// Every Param.T, once set, is an F32 CPU tensor of Param.Shape; Param.DType records only the
// checkpoint dtype (BF16, except e_score_correction_bias F32).
//
// # Routed experts: fused in memory, per expert on disk
//
// The hub checkpoint stores routed experts per expert
// (…mlp.experts.{e}.{gate,up,down}_proj.weight). In memory they are fused, because
// kernels.Backend.GroupedLinear takes one contiguous weight [E, N, K] for all experts and
// SwiGLUFused takes gate rows first:
//
//	Experts.GateUp  [E, 2F, D]  rows [0,F) of expert e = experts.{e}.gate_proj.weight,
//	                            rows [F,2F)             = experts.{e}.up_proj.weight
//	Experts.Down    [E, D, F]   Down[e]                 = experts.{e}.down_proj.weight
//
// This is also transformers v5's layout and names (mlp.experts.gate_up_proj / down_proj), so
// those are the slots' names; each per-expert hub tensor is one contiguous block of them
// (Experts.GateProj/UpProj/DownProj return views). Load accepts either layout into these
// slots; Save writes the hub (per-expert) layout.
//
// # Checkpoints (weights.go) and init (init.go)
//
// Load reads the selected slots from a model directory (model.safetensors, or shards with
// model.safetensors.index.json, opened lazily so a stage touches only its shards), converting
// any float dtype to F32, and reports missing / unexpected / mis-shaped tensors together in a
// *LoadError. Save writes config.json plus the hub layout, sharded past maxShardBytes.
// InitParams and WriteInit initialise with HF's _init_weights rules from per-tensor PCG
// streams (see InitParams), deterministically.
//
// # Text stages and the model (embed.go, rope_index.go, decoder.go, attention.go, mlp.go,
// moe.go, head.go, model.go)
//
// glm4v.embed, glm4v.decoder (any contiguous layer range) and glm4v.head are stages.Stage
// kinds built from typed configs (EmbedConfig, DecoderConfig, HeadConfig). A micro-batch of B
// sequences of S tokens is packed to T = B·S rows (token (b, s) at row b·S + s); attention
// runs causally within each sequence (cu_seqlens per sequence) with attention_mask 0 keys
// masked. The embed stage splices the vision features at the <|image|> rows in batch order and
// computes the 3-stream MRoPE position ids (RopeIndex, transformers 4.5x get_rope_index; pad
// slots get 1); position_ids and attention_mask travel with the hidden states through the
// decoder stages. BackwardInput returns input gradients and keeps (activation, output
// gradient) pairs; BackwardWeight does the parameter-gradient GEMMs into Param.Grad. Model
// chains vision → embed → decoders → head for one device and HF-named inputs and gradients.
//
// Loss normalisation: the head outputs Σ CE / N over the shifted labels (−100 ignored). N is
// HeadConfig.LossTokens, the number of loss tokens in the whole global batch, so the summed
// gradients of m micro-batches equal those of one big batch; LossTokens 0 means the
// micro-batch's own count (HF's per-batch mean). The optional MoE aux loss is off unless
// configured (ModelOptions.Aux, DecoderConfig.Aux, HeadConfig.Aux): "seq" is Megatron-Core's
// seq_aux_loss (coefficient 1e-3 by default), a sum of per-layer terms each decoder stage
// computes; "hf" is HF's load_balancing_loss_func (router_aux_loss_coef, 1e-4), pooled over
// all MoE layers, so the decoder stages pass running router statistics (router_counts,
// router_probs [E] F64) to the head, which outputs aux_loss and sends the gradient of the
// pooled probabilities back. Either way the aux value is reported apart from loss
// (Outputs.AuxLoss) and its gradient, scaled by AuxLoss.GradScale (e.g. 1/m), is added to the
// parameter gradients.
//
// Buffers: each text stage draws its activations and scratch from a per-stage arena (by dtype
// and element count) and returns them in BackwardWeight, so steady-state training allocates
// only the tensors that leave a stage (its outputs and input gradients).
//
// Shape vocabulary: V vocab, D text hidden, H heads, K kv heads, Dh head dim, I dense MLP
// width, F expert width, E experts, L layers; vision Dv hidden, Do out hidden (= D), Iv merger
// width, C channels, Tp temporal patch, p patch, m merge size, Gp position-grid side.
//
// Non-goals here: forward/backward math (the compute files), parallelism (pipelines/),
// tokenisation and image preprocessing (transforms/).
package glm4v
