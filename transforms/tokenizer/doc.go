// Package tokenizer loads Hugging Face tokenizer.json files for byte-level BPE models
// (GLM-4.5V, GPT-2, Llama-3, Qwen2) and encodes and decodes text with the same ids as HF's
// tokenizers library.
//
// Pipeline, as HF runs it (encode(text, add_special_tokens=False)):
//
//  1. added tokens with normalized=false are matched on the raw text (leftmost-longest,
//     honouring single_word, lstrip, rstrip); the rest of the text is
//  2. normalized (NFC, NFD, NFKC, NFKD, Prepend, Replace, Sequence), then added tokens with
//     normalized=true are matched on it;
//  3. pre-tokenized into words (Split with a regex or string and any split behaviour,
//     ByteLevel, Digits, Sequence);
//  4. each word is turned into ids by the BPE model (vocab + ranked merges, HF's merge loop,
//     byte_fallback, unk_token/fuse_unk, continuing_subword_prefix, end_of_word_suffix,
//     ignore_merges).
//
// EncodeWithSpecial adds the post-processor's tokens (TemplateProcessing, Roberta/Bert,
// ByteLevel, Sequence). Decode runs the file's decoder (ByteLevel; ByteFallback, Fuse, Replace,
// Strip, Sequence) and repairs invalid UTF-8 as Rust's from_utf8_lossy does. Any other
// component type is rejected at load with an error naming its JSON path.
//
// Speed: the split regexes of GPT-2, GLM-4/Llama-3 and Qwen2 (recognised by their exact text)
// run as hand-written scanners (scanner.go) instead of a regex engine; other patterns run on
// dlclark/regexp2, which has the look-ahead Go's regexp lacks. A final ByteLevel mapping is
// folded into the model (raw bytes index the byte→token table), merges are looked up by pair
// of ids, and a bounded per-word cache memoises results (it never changes them). A Tokenizer
// is safe for concurrent use.
//
// Data layout: ids are int32 (V = VocabSize() = largest id + 1, holes allowed); token strings
// are as written in the file (byte-level alphabet, e.g. "Ġthe" for " the").
//
// Non-goals: training, offsets/alignments, pair sequences, truncation and padding (the file's
// settings are ignored: the data pipeline owns sequence length), WordPiece/Unigram/WordLevel
// models, BPE dropout (rejected: it makes encodings random).
//
// Known differences from HF: Decode returns an error for an id outside the vocabulary (HF skips
// it); an added token whose declared id disagrees with model.vocab is a load error (HF warns and
// uses the vocab id); for invalid UTF-8 input (impossible in HF) each invalid byte is one
// character of class "other". On the regexp2 general path, (?i) does not fold 'ſ' to 's' as
// Oniguruma does; the hand-written scanners do.
//
// Test files: ../../testdata/tokenizer/tokenizer.json (GLM added tokens at their real ids) and
// ../../testdata/tiny/tokenizer.json (512 ids) come from internal/gentok; testdata/gpt2 is
// OpenAI's GPT-2 vocabulary; testdata/hf holds goldens computed with HF tokenizers.
package tokenizer
