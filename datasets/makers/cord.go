package makers

import (
	"github.com/glmflow/glmflow/datasets/hub"
	"github.com/glmflow/glmflow/transforms/chat"
)

// CordPrompt is Megatron-Bridge's user prompt for cord_v2.
const CordPrompt = "Describe this image."

func init() { Register("cord_v2", func(o Options) Maker { return newCord(o) }) }

type cord struct{ prompt string }

func newCord(o Options) *cord {
	p := o.Prompt
	if p == "" {
		p = CordPrompt
	}
	return &cord{prompt: p}
}

func (*cord) Name() string     { return "cord_v2" }
func (*cord) Dataset() string  { return "naver-clova-ix/cord-v2" }
func (*cord) Config() string   { return "" }
func (*cord) Splits() []string { return []string{"test", "train", "validation"} }
func (*cord) Columns() []hub.Column {
	return []hub.Column{{Name: "image", Kind: hub.KindImage}, {Name: "ground_truth", Kind: hub.KindString}}
}

// Make: image + prompt → the first parse of ground_truth as <s_key> tokens.
func (c *cord) Make(r hub.Row) (chat.Conversation, error) {
	gt, err := r.String("ground_truth")
	if err != nil {
		return chat.Conversation{}, err
	}
	target, err := CordTarget(gt)
	if err != nil {
		return chat.Conversation{}, &hub.RowError{File: r.File(), Row: r.Index(), Column: "ground_truth", Msg: err.Error()}
	}
	im, err := r.Image("image")
	if err != nil {
		return chat.Conversation{}, err
	}
	return userAssistant([]hub.Image{im}, c.prompt, target), nil
}
