// Package makers turns rows of Hugging Face datasets into chat conversations, with the semantics
// of Megatron-Bridge's dataset makers (megatron-bridge.md §2.1):
//
//	cord_v2  naver-clova-ix/cord-v2          image + "Describe this image."  →  json2token(first parse of ground_truth)
//	medpix   mmoukouba/MedPix-VQA            image_id (the image) + question →  answer
//	raven    HuggingFaceM4/the_cauldron/raven  all images, then texts[0].user →  texts[0].assistant (train only)
//
// A Maker names the columns it needs (checked by datasets/hub when a file is opened) and turns
// one hub.Row into a chat.Conversation. Stream runs a maker over one Parquet file and reports
// every row: a conversation (with Source{File, Row}) or that row's error. Row errors — bad JSON,
// a row without images, a null field — name the file, row and column; the caller dead-letters
// them. Unlike Megatron-Bridge's raven maker, which drops such rows silently, nothing is dropped.
//
// Makers are registered by name (Register, from init) and listed sorted (Names). Prompts default
// to Megatron-Bridge's and can be overridden with Options.Prompt.
//
// Non-goals: tokenizing, rendering the chat template, decoding images (transforms/ does those);
// reading more than the columns named; Megatron-Bridge v0.3.0's random choice among several
// CORD parses (HEAD takes the first, so that independently built datasets agree).
package makers
