package glm4v

import (
	"strconv"
	"strings"
)

// Selector picks parameters by name, so a pipeline stage loads (or initialises, or saves)
// only its own tensors. It is called with slot names (fused experts by their v5 name) and
// with checkpoint tensor names (per-expert hub names), so it must treat both alike: the
// selectors here match on name prefixes, which do.
type Selector func(name string) bool

// Name prefixes of the model's parts.
const (
	VisionPrefix   = "model.visual."
	EmbedPrefix    = "model.language_model.embed_tokens."
	LayersPrefix   = "model.language_model.layers."
	NormPrefix     = "model.language_model.norm."
	LMHeadPrefix   = "lm_head."
	LanguagePrefix = "model.language_model."
)

// All selects every tensor.
func All(string) bool { return true }

// SelectVision selects the vision tower, downsample and merger (model.visual.*).
func SelectVision() Selector { return prefix(VisionPrefix) }

// SelectEmbed selects the token embedding.
func SelectEmbed() Selector { return prefix(EmbedPrefix) }

// SelectHead selects the final norm and lm_head. With tie_word_embeddings the head stage also
// needs SelectEmbed.
func SelectHead() Selector { return Any(prefix(NormPrefix), prefix(LMHeadPrefix)) }

// SelectLayers selects decoder layers [from, to).
func SelectLayers(from, to int) Selector {
	return func(name string) bool {
		i, ok := LayerIndex(name)
		return ok && i >= from && i < to
	}
}

// Any selects what any of sels selects.
func Any(sels ...Selector) Selector {
	return func(name string) bool {
		for _, s := range sels {
			if s(name) {
				return true
			}
		}
		return false
	}
}

// LayerIndex returns i for names under model.language_model.layers.{i}.
func LayerIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, LayersPrefix)
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, ".")
	if !ok || num == "" || (len(num) > 1 && num[0] == '0') {
		return 0, false
	}
	i, err := strconv.Atoi(num)
	return i, err == nil && i >= 0
}

func prefix(p string) Selector { return func(name string) bool { return strings.HasPrefix(name, p) } }
