// Package layout parses, validates, maps and balances pipeline layouts: which model units run on
// which pipeline stage.
//
// # Grammar
//
// The string form is Megatron-Core's PipelineParallelLayerLayout grammar (parse_str_to_list)
// extended with V for the vision tower:
//
//	layout := { item }
//	item   := sym [ "*" N ] | "(" { sym [ "*" N ] } ")" "*" N
//	sym    := "V" | "E" | "t" | "m" | "L" | "|"
//
// V is the vision tower (glmflow's extension), E the token embedding, t one decoder layer, m one
// MTP layer, L the final norm + head + loss, and | a stage boundary. x*N repeats one symbol
// (including |) N times; (…)*N repeats a group, which may contain | and x*N but no nested
// parentheses (Megatron's regular expressions do not expand them either). Commas are
// cosmetic and ignored anywhere, as in Megatron; spaces are errors. N is a decimal count ≥ 0.
// Example: "VEt*5|(t*6|)*6t*5L" is GLM-4.5V's PEFT layout for PP8 with the vision tower on
// stage 0. Chained repeats such as "t*2*3", which Megatron expands in a surprising way, are
// rejected.
//
// The list form is Megatron-Bridge's: one list of layer names per stage, names "vision",
// "embedding", "decoder", "mtp", "loss", trimmed and case-insensitive.
//
// # Data layout
//
// A layout with S stages on PP ranks has VP = S / PP virtual stages per rank. Stages are listed
// in Megatron's order: stage j runs on rank j mod PP as local chunk j / PP, and the model's
// units flow through stages 0, 1, …, S−1. Empty stages are allowed (Megatron allows them).
//
// Validation against a model (Validate) requires: exactly one E and one L, the model's number
// of t, m and V units, all V before E, E first after them and on stage 0, L last and on stage
// S−1, no t after an m, and (Megatron's rule) all m in one stage that is the last chunk of its
// rank. Errors point at the offending character.
//
// Balance computes the contiguous partition of per-unit costs into PP·VP non-empty stages that
// minimises the slowest stage's time under a per-stage memory cap, and returns it as a Layout.
//
// Non-goals: building the stages (pipelines/graph) and estimating the costs (the caller's
// FLOP and memory model).
package layout
