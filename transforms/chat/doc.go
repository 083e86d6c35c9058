// Package chat renders GLM-4.5V conversations to token ids plus a per-token loss mask, as the
// model saw them in training (HF chat template + Glm4vProcessor placeholder expansion) and as
// the two SFT recipes in the ecosystem mask them.
//
// What it is: Conversation (what dataset makers produce) → Render → Rendered{InputIDs, Loss,
// Targets} → ShiftedLabels (Megatron-Bridge, pre-shifted) or Labels (HF, unshifted). RenderText
// returns the same conversation as one string. Non-goals: image decoding and pixel processing
// (transforms/imageproc), BPE (transforms/tokenizer, behind the Encoder interface), batching,
// padding and truncation (datasets/). Video and tool-call rendering are not implemented
// (no maker produces them); observation (tool result) turns are.
//
// Data layout (T tokens): InputIDs [T] int32; Loss [T] bool, Loss[i] = token i is a trained
// target; Targets [T] int32 or nil (only LlamaFactory sets it: see below). Images appear as
// <|begin_of_image|>, <|image|> × t·h·w/MergeSize², <|end_of_image|>, where (t, h, w) is the
// image's grid in patches (image_grid_thw); image parts must reference Conversation.Images
// once each, in order, so pixel_values line up with the <|image|> runs.
//
// # Tokenization
//
// Ids equal tokenizing the whole rendered string with special-token splitting (HF: added
// tokens are matched first; the text between two of them is pre-tokenized and BPE-encoded as
// one unit, so "\n{content}" after </think> is one unit). Render builds the template as a list
// of special tokens (placed by id) and text; adjacent text is joined and encoded once, so every
// Encoder call sees exactly one between-specials segment of the whole string. NewRenderer
// checks that each special string encodes alone to its own id. Text containing a structural
// token ([gMASK], <sop>, role markers, <|endoftext|>, the image tokens) is refused, since the
// tokenizer would split it out and break the turn structure. TestWholeStringProperty checks the
// equality on random conversations.
//
// # Template (convention MegatronBridge)
//
// GLM-4.5V's own chat_template.jinja was not found verbatim; the rendering follows the GLM-4.5
// / GLM-4.6V / GLM-OCR family template (same macros; found in public copies), HF's GLM-4.5V
// integration test (first ids [gMASK] <sop> <|user|> "\n" <|begin_of_image|> …) and
// ../shared/docs/glm45v.md 6.2:
//
//	[gMASK]<sop>
//	system      <|system|>\n{text}
//	user        <|user|>\n{parts}            parts concatenated: text as is, images expanded;
//	                                          "/nothink" appended when EnableThinking is false
//	                                          and the text does not already end with it
//	assistant   <|assistant|>\n<think>{reasoning}</think>   reasoning only for turns after
//	                                          the last user message, else <think></think>;
//	            then \n{content} when content is not blank; reasoning and content stripped
//	            (Python's whitespace set)
//	observation <|observation|>\n<tool_response>\n{parts}\n</tool_response>   consecutive
//	                                          observations share one <|observation|>
//
// There is no end-of-turn token: the next role marker ends a turn. Reasoning comes from
// Message.Reasoning, or, when that is empty and the content holds "</think>", from the content
// split as the template does (text before the first "</think>", after its last "<think>",
// newlines trimmed; content after the last "</think>", leading newlines trimmed). Inferred,
// not verified against the hub file [I]: no trailing newline after </tool_response> for text
// results (GLM-4.5 form; one family copy emits one), and the "/nothink" check looking at the
// text parts only.
//
// # Loss, MegatronBridge (Megatron-Bridge glm4v_collate_fn)
//
// Per assistant turn: trained from right after "<|assistant|>\n" to the end of the turn (the
// next role marker, or the end of the sequence). A leading "<think></think>\n" is untrained
// when its tokens match exactly, as Megatron-Bridge trims the token sequence (so a non-empty
// think block is trained, and so is a bare "<think></think>" with no content after it). Never
// trained: [gMASK]<sop>, role markers, image tokens, any terminator after the final turn.
// IncludeTerminator (off by default; glm45v.md 6.3's recommendation as a switch) also trains
// the role marker that ends each assistant turn and appends a trained <|endoftext|> after the
// final one.
//
// # Convention LlamaFactory (LLaMA-Factory template "glm4_5v", the GLM-V README's recipe)
//
//	[gMASK]<sop> [<|system|>\n{system}]     system only as the first message
//	<|user|>\n{parts}<|assistant|>          or <|observation|>\n{parts}<|assistant|>; prompts
//	                                        and answers must alternate
//	\n{content}                             the answer, trained; with reasoning (final turn
//	                                        only) \n<think>{reasoning}</think>\n{content}
//	<|endoftext|>                           appended, trained (efficient_eos)
//
// An answer without a think block gets LLaMA-Factory's default thought words ("<think>\n",
// "\n</think>\n\n", i.e. <think>\n\n</think>\n\n, not GLM's <think></think>) in front: trained
// when EnableThinking, otherwise at the end of the prompt, untrained. Reasoning of earlier
// turns is dropped (LLaMA-Factory strips history thoughts), and all reasoning when thinking is
// disabled. efficient_eos also trains the first token of each later prompt with target
// <|endoftext|> (the input there is <|user|>/<|observation|>): Rendered.Targets carries that.
// Two deliberate differences from LLaMA-Factory, both from tokenizing the whole string:
// LLaMA-Factory encodes the thought words and the answer separately, so at their junction
// ("\n\n" + "\n{content}") its ids can differ from the whole-string ids here (one "\n\n\n"
// token); and where such a token straddles untrained thought words and the trained answer
// (thinking disabled), it is trained.
//
// Errors name the source file and row, the message and the part; they wrap the sentinel
// errors (ErrImageRef, ErrGrid, …) for errors.Is. Nothing panics on bad input.
package chat
