package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// TemplateVersion names the rendering rules implemented here. It is part of Options.Hash, so a
// change to the rules (not only to the options) changes the hash recorded in shard manifests.
const TemplateVersion = "glm45v-chat-1"

// MaxImageTokens bounds the <|image|> run of one image (t·h·w / MergeSize²). GLM-4.5V's largest
// image (longest_edge 9,633,792 pixels) needs 12,288; the bound only stops a corrupt grid from
// allocating gigabytes.
const MaxImageTokens = 1 << 20

// Convention selects which tokens carry loss (and the few rendering differences that come with
// each ecosystem's SFT recipe).
type Convention uint8

const (
	// MegatronBridge renders with the GLM-4.5V HF chat template and masks like Megatron-Bridge's
	// glm4v_collate_fn: assistant content after "<|assistant|>\n", a leading empty
	// "<think></think>\n" untrained, no terminator trained. The zero value.
	MegatronBridge Convention = iota
	// LlamaFactory renders and masks like LLaMA-Factory's "glm4_5v" template: "\n{answer}"
	// trained (think block included), <|endoftext|> appended and trained (efficient_eos).
	LlamaFactory
)

// String returns the name ParseConvention accepts.
func (c Convention) String() string {
	switch c {
	case MegatronBridge:
		return "megatron-bridge"
	case LlamaFactory:
		return "llama-factory"
	}
	return fmt.Sprintf("Convention(%d)", uint8(c))
}

// ParseConvention reads "megatron-bridge" or "llama-factory".
func ParseConvention(s string) (Convention, error) {
	switch s {
	case "megatron-bridge":
		return MegatronBridge, nil
	case "llama-factory":
		return LlamaFactory, nil
	}
	return 0, fmt.Errorf("chat: unknown convention %q (want megatron-bridge or llama-factory)", s)
}

// Options configure rendering. Start from DefaultOptions; the zero Options{} is taken to mean
// DefaultOptions() (so that EnableThinking's default, true, survives a zero value). Any other
// value is used as given and must pass Validate.
type Options struct {
	// Convention: MegatronBridge (default) or LlamaFactory.
	Convention Convention
	// EnableThinking (default true). When false: MegatronBridge appends "/nothink" to every
	// user message, as the HF template does for enable_thinking=False; LlamaFactory drops all
	// reasoning and puts its empty thought words in the prompt (untrained) instead of the
	// response.
	EnableThinking bool
	// IncludeTerminator (MegatronBridge only; default false) also trains the token that ends
	// each assistant turn: the next turn's role marker, and an <|endoftext|> appended after
	// the final turn (which the HF template itself does not emit). LlamaFactory always trains
	// its terminators (efficient_eos), so setting it there is an error.
	IncludeTerminator bool
	// MergeSize is the vision merger's spatial merge (2 for GLM-4.5V): an image with grid
	// (t, h, w) patches becomes t·h·w / MergeSize² <|image|> tokens.
	MergeSize int
	// ImageStart, ImageToken, ImageEnd are the image marker tokens
	// (<|begin_of_image|>, <|image|>, <|end_of_image|>).
	ImageStart, ImageToken, ImageEnd string
}

// DefaultOptions returns GLM-4.5V's settings with the Megatron-Bridge convention.
func DefaultOptions() Options {
	return Options{
		Convention:     MegatronBridge,
		EnableThinking: true,
		MergeSize:      2,
		ImageStart:     "<|begin_of_image|>",
		ImageToken:     "<|image|>",
		ImageEnd:       "<|end_of_image|>",
	}
}

// resolve maps the zero value to the defaults.
func (o Options) resolve() Options {
	if o == (Options{}) {
		return DefaultOptions()
	}
	return o
}

// Validate reports options that cannot render.
func (o Options) Validate() error {
	o = o.resolve()
	if o.Convention != MegatronBridge && o.Convention != LlamaFactory {
		return fmt.Errorf("chat: options: unknown %v", o.Convention)
	}
	if o.MergeSize < 1 || o.MergeSize > 64 {
		return fmt.Errorf("chat: options: MergeSize %d out of range [1, 64] (GLM-4.5V uses 2; start from DefaultOptions)", o.MergeSize)
	}
	names := [3]string{"ImageStart", "ImageToken", "ImageEnd"}
	vals := [3]string{o.ImageStart, o.ImageToken, o.ImageEnd}
	for i, v := range vals {
		if v == "" {
			return fmt.Errorf("chat: options: %s is empty (start from DefaultOptions)", names[i])
		}
		for j := range i {
			if vals[j] == v {
				return fmt.Errorf("chat: options: %s and %s are both %q", names[j], names[i], v)
			}
		}
	}
	if o.IncludeTerminator && o.Convention == LlamaFactory {
		return fmt.Errorf("chat: options: IncludeTerminator applies to megatron-bridge only (llama-factory always trains <|endoftext|>)")
	}
	return nil
}

// String is the canonical text of the options (hashed by Hash).
func (o Options) String() string {
	o = o.resolve()
	return fmt.Sprintf("template=%s convention=%s enable_thinking=%t include_terminator=%t merge_size=%d image_start=%q image_token=%q image_end=%q",
		TemplateVersion, o.Convention, o.EnableThinking, o.IncludeTerminator, o.MergeSize, o.ImageStart, o.ImageToken, o.ImageEnd)
}

// Hash is the hex SHA-256 of String, for manifests: same hash, same rendering rules.
func (o Options) Hash() string {
	s := sha256.Sum256([]byte(o.String()))
	return hex.EncodeToString(s[:])
}
